/* chatsvc.h - the Example Mail Suite chat runtime (libchatsvc.so.1), shared
 * by the chat service and its configuration module (chatcfg.so). */
#ifndef EXAMPLES_CHATSVC_H
#define EXAMPLES_CHATSVC_H

/* The most users one chat server accepts. */
int chatsvc_limit(void);

#endif
