#!/usr/bin/env python3
"""Renames the data members `m_foo` of one class to `foo_` (CONTRIBUTING.md, "Naming conventions").

Usage: scripts/rename-members.py HEADER SOURCE...   (the files of one class; commit them alone)

The viewer's classes were converted with it, one commit per class; app/gui is next. It rewrites
every `m_<camelCase>` word in the given files, so give it exactly the files of the class and check
`git diff` before committing. It refuses, changing nothing, when a new name already exists in those
files (a clash) or an `m_` name has an inner underscore. Trailing `//` comments aligned in one
column keep their column (a group aligned tightly, two spaces after its longest line, stays tight);
a lone trailing comment keeps its two spaces. Members used from other files (a friend, a test
through `->m_x`) are not followed: grep for them first.
"""
import re
import sys

MEMBER = re.compile(r'\bm_([A-Za-z][A-Za-z0-9]*)\b')
TRAILING_COMMENT = re.compile(r'^(.*\S)( {2,})(//.*)$')


def rename(text):
    return MEMBER.subn(r'\1_', text)


def trailing_comment(line):
    m = TRAILING_COMMENT.match(line.rstrip('\n'))
    return m if m and '"' not in m.group(1) else None


def aligned_groups(lines):
    """{line index: group} for trailing comments sharing a column with another in their paragraph."""
    groups, paragraph = {}, []

    def close_paragraph():
        by_column = {}
        for i in paragraph:
            m = trailing_comment(lines[i])
            if m:
                by_column.setdefault(m.start(3), []).append(i)
        for members in by_column.values():
            if len(members) > 1:
                for i in members:
                    groups[i] = tuple(members)
        paragraph.clear()

    for i, line in enumerate(lines):
        if line.strip():
            paragraph.append(i)
        else:
            close_paragraph()
    close_paragraph()
    return groups


def comment_columns(lines, groups):
    columns = {}
    for group in set(groups.values()):
        codes = [trailing_comment(lines[i]).group(1) for i in group]
        old_column = trailing_comment(lines[group[0]]).start(3)
        tight = old_column == max(len(c) for c in codes) + 2
        columns[group] = max(len(rename(c)[0]) for c in codes) + 2 if tight else old_column
    return columns


def main(files):
    if not files:
        sys.exit(__doc__)
    texts = {f: open(f, encoding='utf-8').read() for f in files}
    names = set()
    for f, text in texts.items():
        names |= set(MEMBER.findall(text))
        odd = re.search(r'\bm_[A-Za-z][A-Za-z0-9]*_\w*', text)
        if odd:
            sys.exit(f'{f}: {odd.group(0)} has an inner underscore; rename it by hand')
    for name in sorted(names):
        for f, text in texts.items():
            if re.search(r'\b' + name + r'_\b', text):
                sys.exit(f'{f}: m_{name} would become {name}_, which already exists there; nothing changed')
    uses = 0
    for f, text in texts.items():
        lines = text.splitlines(keepends=True)
        groups = aligned_groups(lines)
        columns = comment_columns(lines, groups)
        out = []
        for i, line in enumerate(lines):
            m = trailing_comment(line) if i in groups else None
            if m:
                code, n = rename(m.group(1))
                line = code.ljust(columns[groups[i]]) + m.group(3) + ('\n' if line.endswith('\n') else '')
            else:
                line, n = rename(line)
            uses += n
            out.append(line)
        with open(f, 'w', encoding='utf-8') as stream:
            stream.write(''.join(out))
    print(f'renamed {len(names)} members ({uses} uses) in {len(files)} files: {", ".join(sorted(names))}')


if __name__ == '__main__':
    main(sys.argv[1:])
