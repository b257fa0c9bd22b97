#!/usr/bin/env bash
# Install Debian's Chromium and a CJK font for the report-in-a-browser test, if missing (root only).
# Without them that test skips, so a failure here is reported, not fatal.
set -u
need=""
command -v chromium >/dev/null || need="chromium"
fc-list :lang=zh 2>/dev/null | grep -q . || need="$need fonts-wqy-zenhei"
[ -z "$need" ] && exit 0
if [ "$(id -u)" = 0 ] && command -v apt-get >/dev/null; then
  (timeout 300 apt-get update -qq && DEBIAN_FRONTEND=noninteractive timeout 900 apt-get install -y -qq $need) \
    >/tmp/roucai-ci-browser.log 2>&1 && exit 0
fi
echo "could not install:$need (see /tmp/roucai-ci-browser.log)" >&2
exit 1
