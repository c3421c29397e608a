"""``python -m qdemo.emotion.lowlevel``: see :mod:`qdemo.emotion.lowlevel.command`."""

from qdemo.emotion.lowlevel.command import main

raise SystemExit(main())
