#!/usr/bin/env bash
# Copy the pinned front-end libraries (package.json / package-lock.json) into static/vendor/.
# The vendored files are committed, so running the app never needs npm or a CDN; run this again
# only after changing a version in package.json.
set -euo pipefail
cd "$(dirname "$0")/.."

if [ -f package-lock.json ]; then
  npm ci --no-audit --no-fund
else
  npm install --no-audit --no-fund
fi

vendor=static/vendor
rm -rf "$vendor"
mkdir -p "$vendor/bootstrap/css" "$vendor/bootstrap/js" "$vendor/htmx" "$vendor/chart.js" "$vendor/dejavu"

cp node_modules/bootstrap/dist/css/bootstrap.min.css node_modules/bootstrap/dist/css/bootstrap.min.css.map "$vendor/bootstrap/css/"
cp node_modules/bootstrap/dist/js/bootstrap.bundle.min.js node_modules/bootstrap/dist/js/bootstrap.bundle.min.js.map "$vendor/bootstrap/js/"
cp node_modules/bootstrap/LICENSE "$vendor/bootstrap/"
cp node_modules/htmx.org/dist/htmx.min.js "$vendor/htmx/"
cp node_modules/htmx.org/LICENSE "$vendor/htmx/"
cp node_modules/chart.js/dist/chart.umd.min.js node_modules/chart.js/dist/chart.umd.min.js.map "$vendor/chart.js/"
cp node_modules/chart.js/LICENSE.md "$vendor/chart.js/"
# The printed letters' Unicode font (reminders/letters.py embeds it in the PDF): Wiśniewski, Łódź, Müller.
cp node_modules/dejavu-fonts-ttf/ttf/DejaVuSans.ttf node_modules/dejavu-fonts-ttf/ttf/DejaVuSans-Bold.ttf "$vendor/dejavu/"
cp node_modules/dejavu-fonts-ttf/LICENSE "$vendor/dejavu/"

# Record exactly what was copied.
node -e '
const names = ["bootstrap", "htmx.org", "chart.js", "dejavu-fonts-ttf"];
for (const n of names) console.log(n + " " + require("./node_modules/" + n + "/package.json").version);
' > "$vendor/VERSIONS.txt"
cat "$vendor/VERSIONS.txt"
