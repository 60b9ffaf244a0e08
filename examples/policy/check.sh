#!/bin/sh
# check.sh BIN - what `make examples` runs: the policy runs a scenario and is a column
# of the matrix, linked in (BIN) and as a plugin of the installed guplab ($GUPLAB_BIN).
set -e
dir=$(dirname "$1")
guplab=${GUPLAB_BIN:-./build/install/bin/guplab}
"$1" run longterm-truncate --design folio_pincount --policy revoke_redirty | head -2
"$1" run --all --format json | grep -q '"policy": "revoke_redirty"'
"$guplab" --plugin "$dir/librevoke_redirty.so" run ext4-bug --design bias --policy revoke_redirty | head -2
"$guplab" run --all --plugin "$dir/librevoke_redirty.so" | grep -E '^  design .*revoke_redirty' | head -1
"$guplab" --plugin "$dir/librevoke_redirty.so" explore torn-writeback --policy revoke_redirty --seeds 100 | tail -1
