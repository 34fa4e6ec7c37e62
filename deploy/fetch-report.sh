#!/usr/bin/env bash
# Fetch a report stored with `pytest --incluster-report-configmap NAME` and reassemble it.
#
#   deploy/fetch-report.sh NAME [-n NAMESPACE] [-o DIR]
#
#   NAME          the name given to --incluster-report-configmap
#   -n NAMESPACE  the runner's namespace (default: kubectl's current namespace)
#   -o DIR        where to write the files (default: the current directory)
#
# Writes DIR/report.html and, when it was stored, DIR/junit.xml, then prints the run's one-line
# summary. Needs kubectl (set KUBECTL to use another binary; KUBECONFIG as usual), base64 and
# gunzip. Where pytest-incluster is installed, `pytest-incluster fetch-report NAME -n NAMESPACE
# -o DIR` does the same without kubectl.
#
# Layout (see pytest_incluster/report/upload.py): ConfigMap NAME is the index; its annotations
# pytest-incluster.io/parts and pytest-incluster.io/files say how many ConfigMaps (NAME, NAME-1,
# ...) hold the report and which files. Each file is binaryData["<file>.gz"]: its base64-decoded
# pieces, concatenated in part order, are one gzip stream. Every part carries the upload's
# pytest-incluster.io/run id; parts of different uploads are refused.
set -euo pipefail

usage() {
    sed -n '2,13s/^# \{0,1\}//p' "$0" >&2
    exit 2
}

die() {
    echo "fetch-report: $*" >&2
    exit 1
}

name=""
namespace=()
out="."
while [ $# -gt 0 ]; do
    case "$1" in
        -n | --namespace)
            [ $# -ge 2 ] || usage
            namespace=(--namespace "$2")
            shift 2
            ;;
        -o | --output)
            [ $# -ge 2 ] || usage
            out="$2"
            shift 2
            ;;
        -h | --help) usage ;;
        -*) usage ;;
        *)
            [ -z "$name" ] || usage
            name="$1"
            shift
            ;;
    esac
done
[ -n "$name" ] || usage

kubectl="${KUBECTL:-kubectl}"

# The value of annotation $2 on ConfigMap $1 ("" when absent).
annotation() {
    "$kubectl" get configmap "$1" "${namespace[@]}" \
        -o go-template="{{with .metadata.annotations}}{{with index . \"$2\"}}{{.}}{{end}}{{end}}"
}

# The base64 text of binaryData key $2 in ConfigMap $1 ("" when absent).
piece() {
    "$kubectl" get configmap "$1" "${namespace[@]}" \
        -o go-template="{{with .binaryData}}{{with index . \"$2\"}}{{.}}{{end}}{{end}}"
}

part_name() {
    if [ "$1" -eq 0 ]; then echo "$name"; else echo "$name-$1"; fi
}

parts=$(annotation "$name" pytest-incluster.io/parts) || die "cannot read ConfigMap $name"
[[ "$parts" =~ ^[1-9][0-9]*$ ]] ||
    die "ConfigMap $name is not a pytest-incluster report (no pytest-incluster.io/parts annotation)"
run=$(annotation "$name" pytest-incluster.io/run)
files=$(annotation "$name" pytest-incluster.io/files)
[ -n "$files" ] || die "ConfigMap $name lists no files (pytest-incluster.io/files)"

for ((i = 1; i < parts; i++)); do
    part=$(part_name "$i")
    got=$(annotation "$part" pytest-incluster.io/run) || die "part $part of $parts is missing"
    [ "$got" = "$run" ] ||
        die "part $part belongs to another upload (the report is being replaced?); run again"
done

mkdir -p "$out"
work=$(mktemp -d)
trap 'rm -rf "$work"' EXIT

for file in $files; do
    # The names come from the cluster: accept plain file names only, never a path.
    [[ "$file" =~ ^[A-Za-z0-9][-._A-Za-z0-9]*$ ]] || die "refusing file name '$file'"
    : >"$work/$file.gz"
    for ((i = 0; i < parts; i++)); do
        piece "$(part_name "$i")" "$file.gz" | base64 -d >>"$work/$file.gz"
    done
    gunzip -c "$work/$file.gz" >"$work/$file" || die "$file is corrupt (gunzip failed)"
    mv "$work/$file" "$out/$file"
    echo "wrote $out/$file"
done

summary=$(annotation "$name" pytest-incluster.io/summary)
[ -z "$summary" ] || echo "$summary"
