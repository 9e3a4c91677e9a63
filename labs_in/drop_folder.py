"""The drop folder: a laboratory (or a person) puts files of ORU^R01 messages in HL7_DROP_FOLDER; each
is received as receive_hl7 would, then moved to `done/` beside its ACKs (`NAME.ack`). Files still being
written are left alone: names starting with a dot or ending in .tmp or .part, and files changed in
the last two seconds (write elsewhere and rename in, as usual for drop folders)."""

from __future__ import annotations

import logging
import time
from pathlib import Path

from accounts.models import Clinic
from labs_in import actions, hl7in

log = logging.getLogger(__name__)

SETTLE_SECONDS = 2.0
IN_PROGRESS = (".tmp", ".part")


def _ready(path: Path, now: float) -> bool:
    return (
        path.is_file()
        and not path.name.startswith(".")
        and not path.name.endswith(IN_PROGRESS)
        and now - path.stat().st_mtime >= SETTLE_SECONDS
    )


def drop_folder_scan(*, folder: Path, clinic: Clinic | None, now: float | None = None) -> list[Path]:
    """Receive every ready file in `folder`; the files done (moved to folder/done)."""
    now = time.time() if now is None else now
    done_dir = folder / "done"
    done_dir.mkdir(parents=True, exist_ok=True)
    done = []
    for path in sorted(folder.iterdir()):
        if not _ready(path, now):
            continue
        text = path.read_text(encoding="utf-8", errors="replace")
        acks = [
            actions.message_receive(text=message, clinic=clinic, via="drop folder").ack
            for message in hl7in.split_messages(text)
        ]
        target = done_dir / path.name
        if target.exists():
            target = done_dir / f"{path.stem}-{int(now * 1000)}{path.suffix}"
        (done_dir / f"{target.name}.ack").write_text("".join(ack.replace(hl7in.CR, "\n") for ack in acks))
        path.rename(target)
        log.info("Drop folder: %s received (%d messages)", path.name, len(acks))
        done.append(target)
    return done
