/*
 * names.h - every path, suffix and magic string that reaches the disk, in
 * one place (dpkg's DPKGNEWEXT). Paths are relative to the root (--root).
 */
#ifndef SETUPKIT_NAMES_H
#define SETUPKIT_NAMES_H

#define SK_VERSION              "0.1.0"

/* Under the root. */
#define SK_STATE_DIR            "var/lib/setupkit"
#define SK_STATE_DB             "var/lib/setupkit/state.db"
#define SK_LOCK_FILE            "var/lib/setupkit/lock"
#define SK_LOG_DIR              "var/lib/setupkit/log"
#define SK_BACKUP_DIR           "var/lib/setupkit/backup"     /* files a product replaced */
#define SK_SPBACKUP_DIR         "var/lib/setupkit/sp-backup"  /* service packs' backups */
#define SK_REGBACKUP_DIR        "var/lib/setupkit/reg-backup" /* the registry before each transaction */
#define SK_REGBACKUP_KEEP       10                            /* newest registry backups kept */
#define SK_STAGE_PREFIX         "stage-"                      /* staging dirs in SK_STATE_DIR */
#define SK_REG_UNDO_PREFIX      "reg-undo-"                   /* + token: Windows registry undo journals in SK_STATE_DIR */
#define SK_REG_UNDO_MAGIC       "SKRUNDO1"                    /* first bytes of one */
#define SK_CONFIG_DIR           "etc/setupkit"
#define SK_TRUSTED_KEYS_DIR     "etc/setupkit/trusted-keys"

/* Beside a final path while a transaction runs. */
#define SK_NEW_SUFFIX           ".setupkit-new"
#define SK_OLD_SUFFIX           ".setupkit-old"
#define SK_STAGE_DIR_PREFIX     ".setupkit-stage-"

/* In a media directory. */
#define SK_MEDIA_MANIFEST       "setupkit-media.ini"
#define SK_MEDIA_SIGNATURE      "setupkit-media.ini.sig"
#define SK_SP_MANIFEST          "setupkit-sp.ini"
#define SK_SP_SIGNATURE         "setupkit-sp.ini.sig"

#endif
