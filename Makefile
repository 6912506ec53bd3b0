# Registre: the two commands a newcomer needs are `make demo` and `make test`.
SWIFT ?= swift
SOAK_COUNT ?= 200

.PHONY: all deps build release test demo soak bench clean

all: build

# libzstd-dev, and pkg-config to find it, are the only system packages Registre needs beyond
# Swift itself; each is installed when it is missing.
deps:
	@missing=; \
	if ! dpkg -s libzstd-dev >/dev/null 2>&1 || [ ! -f /usr/include/zstd.h ]; then missing="$$missing libzstd-dev"; fi; \
	if ! command -v pkg-config >/dev/null 2>&1; then missing="$$missing pkg-config"; fi; \
	if [ -n "$$missing" ]; then \
		echo "make: installing$$missing (apt-get)"; \
		if [ "$$(id -u)" -eq 0 ]; then SUDO=; else SUDO=sudo; fi; \
		$$SUDO apt-get update && $$SUDO apt-get install -y $$missing; \
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
