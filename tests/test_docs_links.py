"""Every relative link and anchor of the project's Markdown resolves (README, docs/,
datasets/README.md, model cards, ...). External links are not fetched."""
import os
import re

import pytest

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
SKIP_DIRS = {'.git', 'build', 'dist', 'wheelhouse', 'runs', 'demo', 'demo-quick', 'node_modules'}
LINK = re.compile(r'!?\[[^\]]*\]\(([^)\s]+)\)')
FENCE = re.compile(r'^(```|~~~)')


def markdown_files():
    for folder, dirs, names in os.walk(ROOT):
        dirs[:] = [d for d in dirs if d not in SKIP_DIRS and not d.startswith('.')]
        for name in names:
            if name.endswith('.md'):
                yield os.path.join(folder, name)


def _prose(path):
    """The lines of a Markdown file outside code fences, inline code removed."""
    inside = False
    for number, line in enumerate(open(path, encoding='utf-8'), start=1):
        if FENCE.match(line.strip()):
            inside = not inside
            continue
        if not inside:
            yield number, re.sub(r'`[^`]*`', '', line) if not line.startswith('#') else line


def slug(heading):
    """GitHub's anchor of a heading: lower case, punctuation dropped, spaces to hyphens."""
    text = re.sub(r'[^\w\- ]', '', heading.strip().lower())
    return text.replace(' ', '-')


def anchors(path):
    found, seen = set(), {}
    for _, line in _prose(path):
        m = re.match(r'^#{1,6}\s+(.*?)\s*#*\s*$', line)
        if m:
            base = slug(m.group(1))
            n = seen.get(base, 0)
            found.add(base if n == 0 else '%s-%d' % (base, n))
            seen[base] = n + 1
    return found


def broken_links(path):
    problems = []
    for number, line in _prose(path):
        for target in LINK.findall(line):
            if re.match(r'^[a-z]+:', target):  # http:, https:, mailto:
                continue
            file_part, _, anchor = target.partition('#')
            dest = os.path.normpath(os.path.join(os.path.dirname(path), file_part)) \
                if file_part else path
            where = '%s:%d: %s' % (os.path.relpath(path, ROOT), number, target)
            if not os.path.exists(dest):
                problems.append(where + ' (no such file)')
            elif anchor and dest.endswith('.md') and anchor not in anchors(dest):
                problems.append(where + ' (no such heading)')
    return problems


def test_slugs_follow_github():
    assert slug('Rooms: are the objects there? (2026-12-07)') == \
        'rooms-are-the-objects-there-2026-12-07'
    assert slug('How `gqn train` works') == 'how-gqn-train-works'
    assert slug('`[scene]` keys of `objects` (your mesh files, no code)') == \
        'scene-keys-of-objects-your-mesh-files-no-code'


@pytest.mark.parametrize('path', sorted(markdown_files()),
                         ids=lambda p: os.path.relpath(p, ROOT))
def test_links_resolve(path):
    assert broken_links(path) == []


def test_the_check_finds_a_broken_link(tmp_path):
    page = tmp_path / 'page.md'
    page.write_text('# Title\n\n[ok](#title) [bad](#nothing) [gone](missing.md)\n'
                    '```\n[in code](nowhere.md)\n```\n')
    assert [p.split(': ', 1)[1] for p in broken_links(str(page))] == [
        '#nothing (no such heading)', 'missing.md (no such file)']
