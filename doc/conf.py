# SPDX-License-Identifier: GPL-2.0
#
# Sphinx configuration of hmm-mirror's documentation (make htmldocs).
#
# The kernel-doc extension and script are the kernel's own, from Debian's
# linux-source-6.12 as scripts/fetch-linux-source unpacks it under .cache/
# (LSRC names another tree); nothing of them is copied here.

import os
import sys

top = os.path.abspath(os.path.join(os.path.dirname(__file__), '..'))
lsrc = os.environ.get('LSRC') or os.path.join(top, '.cache', 'linux-source-6.12')
if not os.path.isfile(os.path.join(lsrc, 'Documentation', 'sphinx', 'kerneldoc.py')):
    sys.exit('doc/conf.py: no kernel-doc extension in %s: run scripts/fetch-linux-source' % lsrc)
sys.path.insert(0, os.path.join(lsrc, 'Documentation', 'sphinx'))

project = 'hmm-mirror'
copyright = 'The hmm-mirror authors'
with open(os.path.join(top, 'VERSION')) as f:
    version = release = f.read().strip()

extensions = ['kerneldoc']
kerneldoc_bin = os.path.join(lsrc, 'scripts', 'kernel-doc')
kerneldoc_srctree = top
# kernel-doc's own complaints go to stderr: scripts/lint's kernel-doc gate
# fails on them.
kerneldoc_verbosity = 1

primary_domain = 'c'
highlight_language = 'none'
# The kernel's annotations, which Sphinx's C parser does not know.
c_id_attributes = [
    '__iomem', '__kernel', '__percpu', '__rcu', '__user', '__force',
    '__always_inline', '__cold', '__pure', '__must_check', '__init',
    '__exit', 'noinline', 'notrace', '__packed', '__aligned',
]
c_paren_attributes = ['__aligned', '__printf', '__section']

master_doc = 'index'
exclude_patterns = ['bench']
html_theme = 'alabaster'
html_static_path = []
html_show_sourcelink = False


# kernel-doc's -export finds nothing, silently, in a file whose exports it
# does not recognise: fail the build if an export of hmm_core is not
# rendered.
def check_exports(app, env):
    import glob
    import re
    from sphinx.util import logging

    exported = set()
    for src in glob.glob(os.path.join(top, 'hmm_core', '*.c')):
        with open(src) as f:
            exported |= set(re.findall(r'^EXPORT_SYMBOL\w*\(\s*(\w+)', f.read(), re.M))
    rendered = {o[0] for o in env.get_domain('c').get_objects()}
    for name in sorted(exported - rendered):
        logging.getLogger(__name__).warning('export %s of hmm_core is not in the documentation', name)


def setup(app):
    app.connect('env-check-consistency', check_exports)
