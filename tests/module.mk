# tests/: the runner, unit-test support and end-to-end scripts. Unit tests
# are listed by each module's module.mk; end-to-end scripts here.
E2E_TESTS +=
