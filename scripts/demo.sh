#!/bin/sh
# demo.sh - the main job: build the sample media (signed with a demo key),
# then in a temporary root install the Example Mail Suite unattended, show
# its status and a registered class, verify it, uninstall it, and show the
# root is empty again. Run by `make demo`; everything happens under one
# temporary directory, removed at the end.
set -eu
B=${B:-build}
B=$(cd "$B" && pwd)
SRC=$(cd "$(dirname "$0")/.." && pwd)
W=$(mktemp -d "${TMPDIR:-/tmp}/setupkit-demo-XXXXXX")
trap 'rm -rf "$W"' EXIT
ROOT=$W/root
mkdir -p "$ROOT"
step() { printf '\n== %s\n' "$*"; }
run() { printf '$ %s\n' "$*" | sed "s|$W|\$DEMO|g; s|$B|build|g; s|$SRC/||g"; "$@" 2>&1 | sed "s|$W|\$DEMO|g; s|$B|build|g" | sed 's/^/  /'; }

step "1. Build signed install media for the sample product"
(cd "$W" && "$B/bin/mkmedia" keygen demo >/dev/null)
run "$B/bin/mkmedia" build "$SRC/manifests/examples/mailsuite.ini" --source "$B/examples/tree" --out "$W/media" --sign "$W/demo.key"
run "$B/bin/mkmedia" verify "$W/media" --trusted-key "$W/demo.pub"
mkdir -p "$ROOT/etc/setupkit/trusted-keys"
cp "$W/demo.pub" "$ROOT/etc/setupkit/trusted-keys/"

step "2. What would setup do? (setup plan)"
run "$B/bin/setup" plan --root "$ROOT" --media "$W/media" --unattended "$SRC/manifests/examples/answers.ini"

step "3. Install unattended into a temporary root"
run "$B/bin/setup" install --root "$ROOT" --media "$W/media" --unattended "$SRC/manifests/examples/answers.ini"

step "4. Status, and a class the inetcomm module registered"
run "$B/bin/setup" status --root "$ROOT"
run "$B/bin/register" --root "$ROOT" query 'HKCR\CLSID\{6D1C2B4E-8A3F-4C51-9E7D-2F4A6B8C0D11}' -r

step "5. Verify every file and every registered class"
run "$B/bin/setup" verify --root "$ROOT"

step "6. Uninstall"
run "$B/bin/setup" uninstall mailsuite --root "$ROOT"
left=$(cd "$ROOT" && find . -path ./var/lib/setupkit -prune -o -path ./etc -prune -o -type f -print | wc -l)
keys=$("$B/bin/register" --root "$ROOT" query HKLM -r 2>/dev/null | grep -c 'REG_' || true)
printf '  files left outside setupkit'"'"'s own state: %s; registry values left: %s\n' "$left" "$keys"
if [ "$left" -ne 0 ] || [ "$keys" -ne 0 ]; then
	echo "demo FAILED: the root is not back to empty"
	exit 1
fi
printf '\ndemo OK: installed, verified and removed the Example Mail Suite; the root is back to empty.\n'
