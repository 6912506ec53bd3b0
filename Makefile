# Registre: the two commands a newcomer needs are `make demo` and `make test`.
SWIFT ?= swift
SOAK_COUNT ?= 200

.PHONY: all deps build release test demo soak bench clean

all: build

# libzstd-dev is the only system package Registre needs beyond Swift itself.
deps:
	@if ! dpkg -s libzstd-dev >/dev/null 2>&1 || [ ! -f /usr/include/zstd.h ]; then \
		echo "make: installing libzstd-dev (apt-get)"; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO apt-get install -y libzstd-dev pkg-config; \
	fi

build: deps
	$(SWIFT) build

release: deps
	$(SWIFT) build -c release

test: deps
	$(SWIFT) build --build-tests
	$(SWIFT) test --skip-build

demo: release
	.build/release/registre demo

# Long crash loops; CI runs a short version inside `make test`.
soak: deps
	$(SWIFT) build --build-tests
	REGISTRE_SOAK_COUNT=$(SOAK_COUNT) $(SWIFT) test --skip-build --filter Soak

bench: release
	.build/release/registre bench

clean:
	rm -rf .build
