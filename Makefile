# zmtpdump: `make` builds ./zmtpdump, `make check` installs the Debian
# packages the tests need if missing (as root), then runs vet, staticcheck and
# every test (the end-to-end tests need root), `make install` installs the
# binary, its man pages and shell completions (bash, zsh, fish), `make image`
# builds the container image zmtpdump:dev with Docker and no registry.

GO      ?= go
PREFIX  ?= /usr/local
VERSION ?= $(shell git describe --tags --always --dirty 2>/dev/null || echo dev)
# Debian's clang 14 finds asm/types.h only with this include path.
BPF_CFLAGS ?= -I/usr/include/$(shell uname -m)-linux-gnu

# Where `make docs` writes the generated man pages and completions.
DOCDIR  ?= build/docs

.PHONY: all zmtpdump image peers generate check deps vet test bench docs install clean check-kernels

all: zmtpdump

# The main binary is static and pure Go: CGO_ENABLED=0.
zmtpdump:
	CGO_ENABLED=0 $(GO) build -trimpath -ldflags "-s -w -X main.version=$(VERSION)" -o zmtpdump ./cmd/zmtpdump

# The container image, from scratch: the static binary alone (deploy/Dockerfile.scratch),
# its build context a directory holding only that binary, so nothing is
# pulled and no registry is needed. DOCKER_HOST picks the daemon;
# IMAGE=name:tag another tag.
DOCKER ?= docker
IMAGE  ?= zmtpdump:dev
image: zmtpdump
	rm -rf build/image
	mkdir -p build/image
	cp zmtpdump build/image/zmtpdump
	$(DOCKER) build --pull=false --build-arg VERSION=$(VERSION) -f deploy/Dockerfile.scratch -t $(IMAGE) build/image

# The libzmq test peer (cgo; needs libzmq3-dev). Never part of zmtpdump.
peers:
	$(GO) build -o bin/zmqpeer ./testpeers/zmqpeer

# Regenerate the committed bpf2go output from bpf/capture.c (needs clang,
# llvm and libbpf-dev).
generate:
	$(GO) generate ./bpf

# go vet silently skips cgo packages without a C compiler: refuse to run
# without one rather than pass on half the code.
vet: deps
	test "$$($(GO) env CGO_ENABLED)" = 1 || { echo "go vet needs cgo (gcc) for the cgo test peer: run make deps"; exit 1; }
	test -z "$$(gofmt -l $$(git ls-files '*.go'))" || { gofmt -l $$(git ls-files '*.go'); echo "gofmt needed"; exit 1; }
	$(GO) vet ./...
	$(GO) tool staticcheck ./...

test: deps
	$(GO) test -count=1 ./...

# make deps: the Debian packages the tests need (gcc and libzmq3-dev for the cgo peer,
# tcpdump, iproute2): installed with apt-get when missing and run as root.
deps:
	./scripts/deps

check: deps vet test

# Live checks on Debian 12's own kernel (6.1, no TCX) in a qemu virtual
# machine (TCG); see vmtest/README.md. Needs root for apt-get on first use.
check-kernels:
	$(GO) run ./vmtest/host -go $(GO)

# The micro benchmarks of the decoder, the assembler and the printers, then the live
# overhead harness (bench/: needs root, libzmq3-dev and tcpdump; about 7
# minutes on 2 CPUs). BENCHFLAGS=-quick runs a tenth of the messages once;
# see bench/doc.go for the other flags (-o FILE writes the report).
BENCHFLAGS ?=
bench:
	$(GO) test -run='^$$' -bench=. -benchmem ./zmtp ./flows ./output ./cmd/zmtpdump
	$(GO) run ./bench $(BENCHFLAGS)

# Man pages (section 8) and shell completions, generated from the cobra
# commands by the hidden `zmtpdump gen-docs DIR`.
docs: zmtpdump
	rm -rf $(DOCDIR)
	./zmtpdump gen-docs $(DOCDIR)

install: zmtpdump docs
	install -D -m 0755 zmtpdump $(DESTDIR)$(PREFIX)/bin/zmtpdump
	install -d $(DESTDIR)$(PREFIX)/share/man/man8
	install -m 0644 $(DOCDIR)/man/*.8 $(DESTDIR)$(PREFIX)/share/man/man8/
	install -D -m 0644 $(DOCDIR)/completions/zmtpdump.bash $(DESTDIR)$(PREFIX)/share/bash-completion/completions/zmtpdump
	install -D -m 0644 $(DOCDIR)/completions/_zmtpdump $(DESTDIR)$(PREFIX)/share/zsh/site-functions/_zmtpdump
	install -D -m 0644 $(DOCDIR)/completions/zmtpdump.fish $(DESTDIR)$(PREFIX)/share/fish/vendor_completions.d/zmtpdump.fish

clean:
	rm -rf zmtpdump bin build
