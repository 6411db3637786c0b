"""The floor of a plan's work, as one process (run by ``plan_floor.py``, or by hand).

    python tests/benchmarks/floor.py DIRECTORY URL

Finds every ``*.yaml`` / ``*.yml`` under DIRECTORY, parses each with PyYAML's C loader
(``CSafeLoader``, plain data, no positions), and meanwhile reads ``GET URL/_inference/_all``
once on a second thread with the client the tool uses (httpx). Prints how many documents and
listed endpoints it saw. No plan can do less: it must read every spec and the cluster's listing.
"""

from __future__ import annotations

import os
import sys
import threading

import httpx
import yaml


def main() -> int:
    directory, url = sys.argv[1], sys.argv[2]
    listed: list[int] = []

    def read_listing() -> None:
        with httpx.Client(base_url=url, timeout=120) as client:
            answer = client.get("/_inference/_all")
            answer.raise_for_status()
            listed.append(len(answer.json().get("endpoints", [])))

    reader = threading.Thread(target=read_listing)
    reader.start()
    documents = 0
    for folder, dirnames, filenames in os.walk(directory):
        dirnames.sort()
        for name in sorted(filenames):
            if name.endswith((".yaml", ".yml")):
                with open(os.path.join(folder, name), encoding="utf-8") as stream:
                    documents += sum(
                        1 for _ in yaml.load_all(stream.read(), Loader=yaml.CSafeLoader)
                    )
    reader.join()
    print(f"{documents} documents, {listed[0] if listed else '?'} endpoints listed")
    return 0


if __name__ == "__main__":
    sys.exit(main())
