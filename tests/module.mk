# tests/: the runner, unit-test support and end-to-end scripts. Unit tests
# are listed by each module's module.mk; the engine's end-to-end scripts here,
# the longest first (tests/run.sh starts them in this order, several at once).
E2E_TESTS += tests/e2e/setup_sp.sh tests/e2e/scenario4_extensions_old_media.sh tests/e2e/setup_crash.sh tests/e2e/setup_install.sh tests/e2e/setup_wizard.sh tests/e2e/setup_services.sh tests/e2e/scenario1_missing_library.sh tests/e2e/scenario2_path_spaces.sh tests/e2e/scenario3_corrupt_shared.sh tests/e2e/scenario5_service_order.sh \
	tests/e2e/reliability_concurrency.sh tests/e2e/reliability_modules.sh tests/e2e/reliability_mapped.sh
# make bench: apply and remove a service pack of 2,000 files on a product of 20,000.
BENCH_SCRIPTS += tests/bench/bench_sp.sh
