#!/usr/bin/env bash
# docs_check.sh SRC BIN: the man pages and the bash completion cannot
# drift from the programs.  Every flag each program's --help shows (and
# each orchctl command's, and orch-manager certs') must be in its man page
# (docs/man/, roff read with \- as -); every orchctl command must have its
# section; every flag of an orchctl command must be completed by
# completions/orchctl.bash; groff must find nothing to warn about; and
# the completion script must complete commands and flags without a
# manager.
set -euo pipefail
src=$1
bin=$2
fail=0

die() {
	echo "FAIL: $*" >&2
	fail=1
}

# The flags a help text shows: --long and -x words.
flags() {
	grep -oE '(^|[][ ,|(])--?[a-z][a-z-]*' | sed -E 's/^[][ ,|(]//' | sort -u
}

# A man page as plain words: \- is -, font changes go.
man_text() {
	sed -E 's/\\-/-/g; s/\\f[BIRP]//g; s/\\\(em/--/g' "$1"
}

check_flags() { # PAGE HELP-TEXT WHAT
	local page=$1 text=$2 what=$3 f
	for f in $(flags <<<"$text"); do
		grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" <<<"$(man_text "$page")" ||
			die "$what: $f is not in $(basename "$page")"
	done
}

check_flags "$src/docs/man/orch-manager.8" "$("$bin/orch-manager" --help)" "orch-manager --help"
check_flags "$src/docs/man/orch-manager.8" "$("$bin/orch-manager" certs --help)" "orch-manager certs --help"
check_flags "$src/docs/man/orch-agent.8" "$("$bin/orch-agent" --help)" "orch-agent --help"
check_flags "$src/docs/man/orchctl.1" "$("$bin/orchctl" --help)" "orchctl --help"

verbs=$("$bin/orchctl" --help | sed -n '/^Commands:/,/^$/p' | grep -oE '^  [a-z]+' | sort -u)
[ -n "$verbs" ] || die "no commands in orchctl --help"
for v in $verbs; do
	help=$("$bin/orchctl" "$v" --help)
	check_flags "$src/docs/man/orchctl.1" "$help" "orchctl $v --help"
	grep -qE "^\.SS \"$v( |\")" "$src/docs/man/orchctl.1" ||
		die "orchctl.1 has no section for the command $v"
	for f in $(flags <<<"$help"); do
		[ "$f" = -h ] || [ "$f" = --help ] && continue
		grep -qE -- "(^|[^a-z-])$f([^a-z-]|$)" "$src/completions/orchctl.bash" ||
			die "orchctl $v $f is not completed by completions/orchctl.bash"
	done
done

if command -v groff >/dev/null; then
	for page in "$src"/docs/man/*.[18]; do
		w=$(groff -t -man -ww -z "$page" 2>&1) || die "groff failed on $page"
		[ -z "$w" ] || die "groff warns on $(basename "$page"): $w"
	done
else
	echo "groff is not installed: the pages are not rendered"
fi

# Completion without a manager: commands, subcommands, flags, values.
complete_words() { # LINE...: the candidates for the last word
	bash --norc --noprofile -c '
		source "$1/completions/orchctl.bash"
		shift
		COMP_WORDS=("$@")
		COMP_CWORD=$((${#COMP_WORDS[@]} - 1))
		_orchctl orchctl "${COMP_WORDS[COMP_CWORD]}" "${COMP_WORDS[COMP_CWORD-1]}"
		((${#COMPREPLY[@]} == 0)) || printf "%s\n" "${COMPREPLY[@]}"' _ "$src" "$@"
}
expect() { # WANT LINE...
	local want=$1 got
	shift
	got=$(ORCH_ADDR=http://127.0.0.1:1 complete_words "$@" | tr '\n' ' ')
	[ "$got" = "$want" ] || die "completing '$*': want '$want', got '$got'"
}
expect "events " orchctl ev
expect "nodes node " orchctl nod
expect "get drain undrain " orchctl node ""
expect "--wait --wait-timeout " orchctl stop x --wa
expect "--status " orchctl list --st
expect "json name " orchctl list -o ""
expect "Failed " orchctl list --status F
expect "exec " orchctl run --driver e
expect "stderr " orchctl logs x --stream stde
expect "--follow " orchctl logs x --fo
expect "" orchctl run web img -- sh -c ""
expect "--version " orchctl --vers
# No manager answers: no names, and no error.
expect "" orchctl stop ""

[ "$fail" = 0 ] || exit 1
echo "docs_check: man pages and completion match the programs' --help"
