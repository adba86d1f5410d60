# espgw — see README.md. `make deps` once on a fresh Debian 12 machine, then any target.
SHELL := /bin/bash
CARGO ?= cargo
ESPGW := target/release/espgw
PERF  := target/release/espgw-perf

# Debian packages: DPDK and its headers, bindgen's libclang, and the tools the tests and
# the demo drive (namespaces, ping, ethtool, iperf3, DPDK's testpmd and the ipsec-secgw
# example sources (dpdk-doc) as the perf peers;
# tcpdump/tshark/nftables and a Python venv for scapy in the ESP namespace tests;
# strongSwan's charon + swanctl, and kernel-libipsec from the extra plugins, as the IKEv2 peer;
# BIRD 2 as the routing daemon that speaks BGP over VTIs).
DEB_PACKAGES := dpdk dpdk-dev dpdk-doc libdpdk-dev pkg-config libclang-dev clang gcc make \
                iproute2 iputils-ping ethtool iperf3 procps python3 \
                tcpdump tshark nftables python3-venv curl prometheus systemd bird2 \
                strongswan-charon strongswan-swanctl libcharon-extra-plugins libstrongswan-extra-plugins

# scapy (an independent ESP implementation) and its crypto backend, for the ESP tests.
PYENV := target/pyenv
PY_PACKAGES := scapy==2.8.0 cryptography==50.0.2

.PHONY: all deps build test unit-test config-test netns-test ikev1-test ikev1-gw-test ike-test tunnel-test vti-test scapy-test ike-test pyenv demo bench lint fmt clean

all: build

deps:
	@missing=""; for p in $(DEB_PACKAGES); do \
	  dpkg-query -W -f='$${Status}' $$p 2>/dev/null | grep -q "ok installed" || missing="$$missing $$p"; \
	done; \
	if [ -n "$$missing" ]; then \
	  echo "installing:$$missing"; \
	  export DEBIAN_FRONTEND=noninteractive; \
	  apt-get update -qq && apt-get install -y -qq $$missing; \
	else echo "deps: all Debian packages present"; fi
	@command -v $(CARGO) >/dev/null || { echo "cargo not found: install a Rust toolchain (rustup)"; exit 1; }
	@# The fuzz targets need a nightly toolchain (sanitizers) and cargo-fuzz.
	@rustup toolchain list 2>/dev/null | grep -q '^nightly' || rustup toolchain install nightly --profile minimal
	@command -v cargo-fuzz >/dev/null || $(CARGO) install cargo-fuzz --locked

build:
	$(CARGO) build --release --workspace

test: build unit-test config-test netns-test fuzz-smoke tunnel-test vti-test scapy-test ike-test ikev1-test ikev1-gw-test

unit-test:
	$(CARGO) test --profile test-opt --workspace

# Every example configuration shipped in deploy/ must validate.
config-test: build
	@set -e; for f in deploy/examples/*.yaml; do $(ESPGW) check-config $$f; done
	promtool check config deploy/prometheus/prometheus.yml
	promtool check rules deploy/prometheus/espgw-alerts.yml
	python3 -m json.tool deploy/grafana/espgw-dashboard.json >/dev/null
	@# The unit files, with the binary path pointed at this build.
	@set -e; d=$$(mktemp -d); for u in deploy/systemd/*.service; do \
	  sed 's#/usr/bin/espgw#$(CURDIR)/$(ESPGW)#' $$u > $$d/$$(basename $$u); done; \
	  systemd-analyze verify $$d/*.service; rm -rf $$d; echo "systemd units verified"

# The inbound data path under libFuzzer for a bounded time (FUZZ_SECONDS); `make fuzz` runs longer.
FUZZ_SECONDS ?= 45
fuzz-smoke:
	cd fuzz && $(CARGO) +nightly fuzz run inbound -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096
	cd fuzz && $(CARGO) +nightly fuzz run ike_message -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096
	cd fuzz && $(CARGO) +nightly fuzz run isakmp_message -- -max_total_time=$(FUZZ_SECONDS) -rss_limit_mb=4096

fuzz:
	$(MAKE) fuzz-smoke FUZZ_SECONDS=1800

# Needs root: network namespaces and DPDK af_packet ports.
netns-test: build
	ESPGW=$(CURDIR)/$(ESPGW) bash tests/netns/forwarding.sh

# Two espgw gateways with static ESP SAs between two hosts; tshark decrypts the wan capture.
tunnel-test: build pyenv
	ESPGW=$(CURDIR)/$(ESPGW) PY=$(CURDIR)/$(PYENV)/bin/python bash tests/netns/tunnel.sh

# Route-based tunnel: static routes into the VTI, then BGP (BIRD) over it with the learned
# routes imported from the kernel; a policy-based tunnel alongside in both; then two VTIs to
# two far gateways: failover when one dies and back, by BGP, by ECMP over a BGP multipath
# route, and by static routes with metrics (tracking).
vti-test: build
	ESPGW=$(CURDIR)/$(ESPGW) bash tests/netns/vti.sh
	ROUTING=bgp ESPGW=$(CURDIR)/$(ESPGW) bash tests/netns/vti.sh
	@set -e; for m in bgp ecmp static; do FO_MODE=$$m ESPGW=$(CURDIR)/$(ESPGW) bash tests/netns/vti_failover.sh; done

# scapy as the remote ESP gateway through espgw's DPDK ports, over an algorithm/mode matrix.
scapy-test: build pyenv
	ESPGW=$(CURDIR)/$(ESPGW) PY=$(CURDIR)/$(PYENV)/bin/python bash tests/netns/esp_scapy.sh

# espgw's IKEv2 driver against strongSwan 5.9 (charon + kernel-libipsec) in namespaces: both
# initiator directions, three proposal suites, ping and iperf3 through the tunnel, Child and
# IKE rekeys both ways under a ping stream with no loss, DPD with charon killed and restarted,
# NAT-T through an nft masquerade, and six misconfigurations each diagnosed in espgw status.
# About 75 s.
# IKEv1 core against strongSwan's charon (main, aggressive, charon-initiated, wrong PSK):
# the keys charon logs must be the ones ike::v1 derived.
ikev1-test:
	$(CARGO) build --release -p espgw-ike --example v1_driver --features interop-keys
	@set -e; for m in main aggressive respond wrongpsk ah; do \
	  DRIVER=$(CURDIR)/target/release/examples/v1_driver bash ike/tests/interop/v1_strongswan.sh $$m; done

ike-test: build
	ESPGW=$(CURDIR)/$(ESPGW) bash tests/netns/ike_strongswan.sh

# espgw's IKEv1 peers against strongSwan 5.9 IKEv1 through the DPDK data plane: main mode with
# two suites, both sides initiating, pings with matching SPIs; two policy pairs under one
# phase 1 with one refused (status "partially up"); a phase 2 rekey under 80 s of pings with
# none lost; aggressive mode on, and refused when off. About 100 s.
ikev1-gw-test: build
	ESPGW=$(CURDIR)/$(ESPGW) bash tests/netns/ikev1_gateway.sh

# The venv is made once; it is remade only when the pinned versions change.
pyenv: $(PYENV)/.installed
$(PYENV)/.installed: Makefile
	@if [ -f $@ ] && [ "$$(cat $@)" = "$(PY_PACKAGES)" ]; then touch $@; exit 0; fi; \
	set -e; rm -rf $(PYENV); python3 -m venv $(PYENV); \
	$(PYENV)/bin/pip install -q --disable-pip-version-check $(PY_PACKAGES); \
	echo "$(PY_PACKAGES)" > $@

demo: build
	ESPGW=$(CURDIR)/$(ESPGW) bash demo/demo.sh

# The standard set, each next to its peer in the same run: L3 forwarding (dpdk-testpmd,
# l3fwd), ESP tunnel encrypt/decrypt (ipsec-secgw, built once into target/perf), AES-GCM
# (aws-lc-rs, with ring and RustCrypto aes-gcm beside it: the `peers` build), ESP in memory
# and the SPI lookup with 100k SAs next to one SA; ESP also with two worker cores next to
# one; then one table and target/perf/report.json. About 9 minutes on 2 cores.
bench: build
	$(CARGO) build --release -p espgw-perf --features peers
	$(PERF) forward --runs 3 --seconds 3
	$(PERF) esp --sizes 64,1420,imix --runs 3 --seconds 3 --cores 1,2
	$(PERF) pipeline
	$(PERF) crypto
	$(PERF) spi
	$(PERF) report

lint:
	$(CARGO) fmt --all -- --check
	$(CARGO) clippy --workspace --all-targets -- -D warnings

fmt:
	$(CARGO) fmt --all

clean:
	$(CARGO) clean
