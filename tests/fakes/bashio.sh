# Stand-in for the bashio functions the app's s6 scripts call, for tests
# without the Supervisor: source it through BASH_ENV.
bashio::log.info() { echo "INFO: $*"; }
bashio::log.warning() { echo "WARNING: $*"; }
bashio::log.error() { echo "ERROR: $*"; }

# key value ... -> a JSON object; a value starting with ^ is raw JSON (as bashio does).
bashio::var.json() {
    python3 -c '
import json, sys
pairs = sys.argv[1:]
print(json.dumps({k: json.loads(v[1:]) if v.startswith("^") else v for k, v in zip(pairs[::2], pairs[1::2])}))
' "$@"
}

# Records what would be posted to the Supervisor's /discovery.
bashio::discovery() {
    printf '{"service": "%s", "config": %s}\n' "$1" "$2" > "${BASHIO_DISCOVERY_FILE:?}"
    echo "fake-discovery-uuid"
}
