#!/bin/sh
# demo.sh - the main job: build the sample media and service packs 1 and 2
# (signed with a demo key), then in a temporary root install the Example
# Mail Suite unattended, show its status and a registered class, apply SP1
# and SP2, remove SP2, verify, uninstall, and show the root is empty again.
# Run by `make demo`; everything happens under one temporary directory,
# removed at the end.
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
for i in 1 2; do
	run "$B/bin/mkmedia" build "$SRC/manifests/examples/sp$i.ini" --source "$B/examples/tree" --out "$W/sp$i" --sign "$W/demo.key"
done
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

step "6. Apply Service Pack 1, then Service Pack 2 (which supersedes it)"
run "$B/bin/setup" sp apply --root "$ROOT" --media "$W/sp1"
run "$B/bin/setup" sp apply --root "$ROOT" --media "$W/sp2"
run "$B/bin/setup" status --root "$ROOT"
run "$B/bin/register" --root "$ROOT" query 'HKLM\Software\Example\Mail Suite'

step "7. Remove Service Pack 2: back to SP1's files, registry and version"
run "$B/bin/setup" sp remove mailsuite --root "$ROOT"
run "$B/bin/register" --root "$ROOT" query 'HKLM\Software\Example\Mail Suite'
run "$B/bin/setup" verify --root "$ROOT"

step "8. Uninstall"
run "$B/bin/setup" uninstall mailsuite --root "$ROOT"
# The sample services write their own logs under var/log/mailsuite while
# they run; setup never installed those files, so (like msiexec and dpkg's
# remove) it keeps them. Everything else must be gone.
logs=$(cd "$ROOT" && find ./var/log/mailsuite -type f 2>/dev/null | wc -l)
printf '  service logs kept (written by the running services, not installed): %s\n' "$logs"
leftover=$(cd "$ROOT" && find . -path ./var/lib/setupkit -prune -o -path ./etc -prune -o -path ./var/log/mailsuite -prune -o -type f -print)
left=$(printf '%s' "$leftover" | grep -c . || true)
keys=$("$B/bin/register" --root "$ROOT" query HKLM -r 2>/dev/null | grep -c 'REG_' || true)
printf '  files left outside setupkit'"'"'s own state: %s; registry values left: %s\n' "$left" "$keys"
if [ "$left" -ne 0 ] || [ "$keys" -ne 0 ]; then
	printf '%s\n' "$leftover" | sed 's/^/  left: /'
	echo "demo FAILED: the root is not back to empty"
	exit 1
fi
printf '\ndemo OK: installed the Example Mail Suite, applied SP1 and SP2, removed SP2, verified and uninstalled it; nothing it installed or registered is left.\n'
