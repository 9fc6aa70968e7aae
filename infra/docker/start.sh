#!/bin/sh
# Runs the package script of the service SERVICE names (`start` for standalone, `start:<name>`
# otherwise), replacing this shell so that the service is the container's main process and
# receives its SIGTERM (it drains requests, then closes its stores).
set -eu
case "${SERVICE:-standalone}" in
  standalone) script=start ;;
  *) script="start:${SERVICE}" ;;
esac
command=$(node -e '
  const scripts = require("./package.json").scripts;
  const command = scripts[process.argv[1]];
  if (!command) {
    console.error(`SERVICE=${process.env.SERVICE}: no package script ${process.argv[1]}`);
    process.exit(2);
  }
  console.log(command);
' "$script")
exec sh -c "exec $command"
