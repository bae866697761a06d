# Every chore has one entry point; CI runs `scripts/test` (what `make test` runs).
.PHONY: help run test bench fuzz

help: ## list the chores
	@grep -E '^[a-z]+:.*## ' $(MAKEFILE_LIST) | awk -F':.*## ' '{printf "  make %-6s %s\n", $$1, $$2}'

run: ## build and run the product on its embedded defaults (isolated, under target/demo)
	scripts/run

test: ## run every test, installing what is missing (what CI runs)
	scripts/test

bench: ## print the host's, the real browser's and the profile server's figures
	scripts/with-keyring cargo bench -p profile-host --bench roundtrip
	cargo build --release -p profile-host -p profile-server
	scripts/with-keyring cargo bench -p personal-profile --bench page_call
		scripts/with-keyring cargo bench -p personal-profile --bench autofill
		scripts/with-keyring cargo bench -p personal-profile --bench vault
	scripts/with-keyring cargo bench -p personal-profile --bench apps

	@# The module the page_call build just packaged, as the browser downloads it and as served.
	@wasm="$${CARGO_TARGET_DIR:-target}/extension/chromium/pkg/profile_extension_bg.wasm"; \
	  raw=$$(wc -c <"$$wasm") && gz=$$(gzip -9 -c "$$wasm" | wc -c) && \
	  awk -v r=$$raw -v g=$$gz 'BEGIN { printf "extension .wasm as packaged: %d bytes (%.0f KiB), gzip -9 %d bytes (%.0f KiB)\n", r, r/1024, g, g/1024 }'
	cargo bench -p profile-rp --bench verify
	scripts/with-postgres cargo bench -p profile-server --bench load

fuzz: ## fuzz each parser of outside input for 60 s (cargo-fuzz)
	command -v cargo-fuzz >/dev/null || cargo install cargo-fuzz
	cd fuzz && for t in frame message; do RUSTC_BOOTSTRAP=1 cargo fuzz run $$t corpus/$$t -- -max_total_time=60 || exit 1; done
