#!/bin/sh
# Prints one virtual host block per name given; read by include_shell.
for name in "$@"; do
    cat <<BLOCK
\$HTTP["host"] == "www.$name" {
    server.document-root = "/srv/$name/htdocs"
}
else \$HTTP["host"] =~ "(^|\\.)$name\$" {
    server.document-root = "/srv/$name/other"
}
BLOCK
done
