#!/bin/sh
# Type files of packages too heavy to install whole, named in package.json's "vendoredTypes":
# @grafana/prometheus (the Prometheus datasource's options and query types) depends on all of
# Grafana's UI, hundreds of packages, for types we read two files of. Each tarball is fetched
# alone (npm pack), checked against the pinned integrity the registry published, and its
# dist/types unpacked into vendor/<name>/ (not committed: .gitignore).
set -eu
cd "$(dirname "$0")"
rm -rf vendor .vendor-tmp
mkdir -p vendor .vendor-tmp
node -e '
  const v = require("./package.json").vendoredTypes;
  for (const [name, pin] of Object.entries(v)) console.log(name, pin.version, pin.integrity);
' | while read -r name version integrity; do
  file=$(npm pack "$name@$version" --pack-destination .vendor-tmp --silent --loglevel=error)
  got="sha512-$(openssl dgst -sha512 -binary ".vendor-tmp/$file" | base64 -w0)"
  if [ "$got" != "$integrity" ]; then
    echo "fetch-vendored-types: $name@$version has integrity $got, package.json pins $integrity" >&2
    exit 1
  fi
  dest="vendor/$(echo "$name" | tr -d @ | tr / -)"
  mkdir -p "$dest"
  tar -xzf ".vendor-tmp/$file" -C "$dest" --strip-components=3 package/dist/types
done
rm -rf .vendor-tmp
