# A thin wrapper over meson and ninja. `make help` lists the targets.
# Every target that builds first installs what is missing (tools/deps.sh).

BUILD      ?= build
ASAN_BUILD ?= build-asan
TSAN_BUILD ?= build-tsan
FUZZ_BUILD ?= build-fuzz
DURATION   ?= 0
MESON_TEST  = meson test --no-rebuild --print-errorlogs

.PHONY: help deps build run test test-fast test-asan test-tsan test-fuzz bench format clean

help:
	@echo "make run        install deps, build, run one node with a demo workload"
	@echo "                (DURATION=N stops after N seconds; Ctrl-C stops it too)"
	@echo "make test       install deps, build, run every test (normal, ASan/UBSan, TSan, fuzz)"
	@echo "make test-fast  the normal build's tests only"
	@echo "make bench      run the perf/ harnesses, write perf/results/"
	@echo "make build      configure and build into $(BUILD)/"
	@echo "make deps       install the Debian packages the project uses"
	@echo "make format     apply clang-format to every C file"
	@echo "make clean      remove the build directories and var/"

deps:
	@tools/deps.sh

$(BUILD)/build.ninja:
	meson setup $(BUILD) --buildtype=debugoptimized

build: deps $(BUILD)/build.ninja
	@ninja -C $(BUILD)

run: build
	@DURATION=$(DURATION) BUILD=$(BUILD) tools/demo.sh

test-fast: build
	$(MESON_TEST) -C $(BUILD) --suite fast --suite concurrent --suite integration \
		--suite lint --suite perf-smoke

$(ASAN_BUILD)/build.ninja:
	meson setup $(ASAN_BUILD) --buildtype=debug -Db_sanitize=address,undefined -Db_lundef=false

test-asan: deps $(ASAN_BUILD)/build.ninja
	@ninja -C $(ASAN_BUILD)
	UBSAN_OPTIONS=halt_on_error=1:print_stacktrace=1 ASAN_OPTIONS=detect_leaks=1 \
		$(MESON_TEST) -C $(ASAN_BUILD) --suite fast --timeout-multiplier 3

$(TSAN_BUILD)/build.ninja:
	meson setup $(TSAN_BUILD) --buildtype=debugoptimized -Db_sanitize=thread -Db_lundef=false

test-tsan: deps $(TSAN_BUILD)/build.ninja
	@ninja -C $(TSAN_BUILD)
	TSAN_OPTIONS="halt_on_error=1 suppressions=$(CURDIR)/tests/tsan.supp" $(MESON_TEST) -C $(TSAN_BUILD) --suite concurrent \
		--timeout-multiplier 4

$(FUZZ_BUILD)/build.ninja:
	CC=clang meson setup $(FUZZ_BUILD) --buildtype=debugoptimized -Dfuzz=true \
		-Db_sanitize=address,undefined -Db_lundef=false

test-fuzz: deps $(FUZZ_BUILD)/build.ninja
	@ninja -C $(FUZZ_BUILD)
	$(MESON_TEST) -C $(FUZZ_BUILD) --suite fuzz

test: deps
	@tools/test-all.sh $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD)

bench: build
	@BUILD=$(BUILD) perf/run.sh

format:
	@git ls-files '*.c' '*.h' | xargs clang-format -i

clean:
	rm -rf $(BUILD) $(ASAN_BUILD) $(TSAN_BUILD) $(FUZZ_BUILD) var
