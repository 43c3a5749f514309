#!/bin/sh
# git's clean filter and diff textconv for *.ipynb (.gitattributes; configured for this clone by
# ./workbook.sh setup): the notebook without outputs, execution counts or language_info, through
# nbstripout from this checkout's venv. Git runs it from the top of the working tree, so `.venv`
# is this checkout's own. Before setup has installed nbstripout the notebook passes unchanged,
# with one line saying so (git shows such a notebook as modified until setup has run).
if .venv/bin/python -c 'import nbstripout' 2>/dev/null; then
    exec .venv/bin/python -m nbstripout --keep-id --extra-keys metadata.language_info "$@"
fi
echo "workbook: notebook outputs not stripped (nbstripout missing): run ./workbook.sh setup" >&2
[ "$1" = -t ] && shift  # textconv: the file to show follows
exec cat "$@"
