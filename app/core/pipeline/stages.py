"""The stages one file goes through: read and hash, duplicate check, thumbnail, original,
then thumbnail, preview and sidecar side by side, then the index entry (last: it is what
tells other computers the photo is there). Each runs on the loop and hands blocking work
to the executors; each changes the job only through its methods."""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Awaitable, Collection
from typing import Any, TypeVar

from app.core.errors import StoreError, describe_os_error
from app.core.formats import HEAD_SIZE, describe_unrecognised, detect_format, key_extension
from app.core.hashing import FileCancelled, FileChanged, inspect_file
from app.core.keys import KeyFields, KeyTemplateError, render_all
from app.core.models import FileState
from app.core.photofacts import PhotoFacts, read_photo_facts
from app.core.pipeline.context import PipelineContext
from app.core.pipeline.integrity import (
    _CHANGED,
    CHANGED_BEFORE_UPLOAD,
    CHANGED_DURING_UPLOAD,
    CHANGED_WHILE_READING,
    CHANGED_WHILE_SENDING,
    GONE_DURING_UPLOAD,
    VERIFY_MISMATCH,
    copy_matches,
    describe_unreadable,
    ensure_unchanged,
    identity_problem,
    problem_with,
    remove_copy,
    unchanged,
)
from app.core.pipeline.job import FileJob
from app.core.pipeline.multipart import send_in_parts
from app.core.pipeline.retrying import store_call, with_retries
from app.core.pipeline.tools import PipelineTools, context_of
from app.core.sidecar import CONTENT_TYPE as SIDECAR_TYPE
from app.core.sidecar import (
    Item,
    default_item,
    sidecar_json,
    sidecar_key,
    sidecar_with,
    stored_item,
)
from app.core.store import DIRECT_PUT_LIMIT, MULTIPART_THRESHOLD, IndexEntry, UploadHandle
from app.core.thumbnails import Derivatives, PreviewSpec, ThumbnailError

log = logging.getLogger(__name__)
T = TypeVar("T")

THUMBNAIL_CONTENT_TYPE = "image/jpeg"
WAITING_FOR_IDENTICAL = "Waiting for an identical file in this batch."
CHANGED_SINCE_ORIGINAL = (
    "The file has changed since its original was uploaded, so no thumbnail was made for it. "
    "Add the file again to upload the new version."
)
CHANGED_WHILE_THUMBNAILING = (
    "The file changed while its thumbnail was being made, so none was kept. "
    "Add the file again to upload the new version."
)
THUMBNAIL_ADDED = "its thumbnail was missing there and has been added."
NO_MEMORY_FOR_THUMBNAIL = "There was not enough memory to make the thumbnail."
NO_MEMORY_FOR_PREVIEW = "there was not enough memory to make it."
ITEM_SAVED = "Item saved in its metadata file; its keys stay as they are."
ITEM_NOT_SAVED = "The item could not be saved in its metadata file"
SIDECAR_NOT_WRITTEN = "its metadata file could not be written"
SIDECAR_LIMIT = 1024 * 1024  # a sidecar of ours is a few hundred bytes


async def hash_stage(job: FileJob, tools: PipelineTools) -> bool:
    """Read the file once for its size, signature and SHA-256, and make its keys. False
    when the file was rejected (not an image, unreadable, changed while read)."""
    if job.outcome.sha256 is not None and await unchanged(job, tools):
        return True  # a retry after a later stage failed: the hash still holds
    tools.enter(job, FileState.HASHING)
    try:
        facts = await tools.run_io(inspect_file, job.path, HEAD_SIZE, job.cancel_event)
    except FileCancelled:
        raise asyncio.CancelledError() from None
    except FileChanged:
        return _rejected(job, tools, CHANGED_WHILE_READING)
    except OSError as exc:
        # (It looks at the file's folder: on the I/O threads, since a drive that just
        # failed a read is exactly the one that may hang now.)
        return _rejected(job, tools, await tools.run_io(describe_unreadable, job.path, exc))
    job.hashed(facts.size, facts.mtime_ns)
    if facts.size == 0:
        return _rejected(job, tools, describe_unrecognised(b""), unusable=True)
    fmt = detect_format(facts.head, job.path.name)
    if fmt is None:
        return _rejected(job, tools, describe_unrecognised(facts.head), unusable=True)
    job.recognised(facts.sha256, fmt)
    context = context_of(job)
    template = context.settings.keys
    if template.uses_taken:
        job.facts = await tools.run_cpu(read_photo_facts, job.path, fmt)
    item = job.item = item_of(job)
    fields = KeyFields(
        item=item.id,
        view=item.view,
        folder=job.outcome.folder,
        taken_at=job.facts.taken_at if job.facts else None,
    )
    ext, preview = key_extension(job.path.name, fmt), context.settings.preview
    try:
        key, thumbnail_key, preview_key = render_all(
            template,
            prefix=context.prefix,
            filename=job.path.name,
            sha256=facts.sha256,
            ext=ext,
            fields=fields,
            preview_extension=preview.extension if preview is not None else None,
        )
    except KeyTemplateError as exc:
        return _rejected(job, tools, str(exc))
    job.keyed(key, thumbnail_key, preview_key)
    return True


def _rejected(job: FileJob, tools: PipelineTools, reason: str, *, unusable: bool = False) -> bool:
    job.reject(reason, unusable=unusable)
    tools.finished(job)
    return False


async def duplicate_stage(job: FileJob, tools: PipelineTools) -> bool:
    """True when the content is already in the bucket, or was just sent by an identical
    file in this batch (which we wait for rather than race)."""
    sha256 = job.outcome.sha256
    assert sha256 is not None
    tools.enter(job, FileState.CHECKING)
    flight = (context_of(job).bucket_id, sha256)

    def waiting() -> None:
        job.notice = WAITING_FOR_IDENTICAL
        tools.changed(job)

    entry = await tools.flights.follow(flight, waiting)
    job.notice = None
    context = context_of(job)
    if entry is None:
        tools.flights.lead(flight)
        job.flight = flight
        if await context.inventory.may_hold_content(sha256):
            entry = await store_call(job, tools, context.store.find_by_hash, sha256)
    if entry is None:
        if await _already_at_own_key(job, tools):
            job.original_landed()  # nothing left to send but its thumbnail
        return False
    own_thumbnail_key, own_preview_key = job.outcome.thumbnail_key, job.outcome.preview_key
    job.found_in_bucket(entry)
    missing = None
    if entry.thumbnail_key is None:
        missing = own_thumbnail_key
    elif not await context.inventory.may_have(entry.thumbnail_key):
        missing = entry.thumbnail_key
    missing_preview = None
    if own_preview_key is not None:  # previews are made: is this photo's there?
        if entry.preview_key is None:
            missing_preview = own_preview_key
        elif not await context.inventory.may_have(entry.preview_key):
            # (Made again at its key, unless that names another format than today's.)
            spec = context.settings.preview
            same_format = spec is not None and entry.preview_key.endswith(spec.extension)
            missing_preview = entry.preview_key if same_format else own_preview_key
    await finish_duplicate(job, tools, missing, missing_preview)
    return True


async def finish_duplicate(
    job: FileJob, tools: PipelineTools, missing: str | None, missing_preview: str | None = None
) -> None:
    """End a file whose content is in the bucket already. When its thumbnail is not
    there (it failed when the original was sent, or was deleted since), this file, the
    same content, makes it now at `missing`, and the index entry names it: a thumbnail
    that failed once is not lost for good, and its reason is shown again if it fails.
    So too its preview (at `missing_preview`) when previews are made; the sidecar then
    names it, all else in it kept."""
    outcome = job.outcome
    # Made without entering Thumbnailing: a journal row of this file never says it was
    # past its duplicate check (a restart then checks again, rather than taking the
    # object at its key for an upload of its own).
    if missing_preview is not None:
        outcome.preview_key, outcome.preview_in_bucket = missing_preview, False
    if missing is not None:
        outcome.thumbnail_key, outcome.thumbnail_in_bucket = missing, False
        job.thumbnail_pending()
        await make_thumbnail(job, tools)
        if missing_preview is None:
            job.preview_bytes = None  # (its preview is there: made with it, not sent)
        if job.thumbnail_bytes is not None:
            await upload_thumbnail_stage(job, tools)
    elif missing_preview is not None:
        await _make_preview(job, tools)
    await upload_preview_stage(job, tools)
    added = _added(
        thumbnail=missing is not None and outcome.thumbnail_in_bucket,
        preview=missing_preview is not None and outcome.preview_in_bucket,
    )
    if added is not None:
        await record_stage(job, tools)
        if outcome.index_in_bucket:  # (else record_stage said what went wrong)
            job.notice = f"Already in the bucket as {outcome.key}; {added}"
    has_sidecar = outcome.key and await context_of(job).inventory.may_have(sidecar_key(outcome.key))
    if not has_sidecar:
        await metadata_stage(job, tools)  # written before this app wrote sidecars, say
    elif added is not None:
        await _name_in_sidecar(
            job,
            tools,
            thumbnail=missing is not None and outcome.thumbnail_in_bucket,
            preview=missing_preview is not None and outcome.preview_in_bucket,
        )
    job.finish(FileState.DUPLICATE)
    tools.finished(job)


def _added(*, thumbnail: bool, preview: bool) -> str | None:
    """What a duplicate put back in the bucket, for its notice."""
    if thumbnail and preview:
        return "its thumbnail and preview were missing there and have been added."
    if preview:
        return "its preview was missing there and has been added."
    return THUMBNAIL_ADDED if thumbnail else None


async def _make_preview(job: FileJob, tools: PipelineTools) -> None:
    """Only the preview is missing: made (the thumbnail made with it is not needed), or
    the file says why not."""
    made = await _derive(job, tools, context_of(job).settings.preview, NO_MEMORY_FOR_PREVIEW)
    if isinstance(made, str):
        job.notice = _done_but(job, f"its preview could not be made: {made}")
    else:
        job.preview_bytes = made.preview


async def _name_in_sidecar(
    job: FileJob, tools: PipelineTools, *, thumbnail: bool, preview: bool
) -> None:
    """The sidecar of a photo in the bucket names the thumbnail and/or preview just added
    to it (the Bucket tab finds them through it), everything else in it kept."""
    outcome, named = job.outcome, dict[str, Any]()
    if thumbnail:
        named["thumbnail_key"] = outcome.thumbnail_key
    if preview:
        named["preview_key"] = outcome.preview_key
    try:
        stored = await _stored_sidecar(job, tools)
        body = sidecar_with(stored, **named) if stored else None
        if body is not None and body != stored:
            await _put_sidecar(job, tools, body, job.sidecar_item)
    except StoreError as exc:
        job.notice = _done_but(job, f"its metadata file could not be updated: {exc}")


async def _already_at_own_key(job: FileJob, tools: PipelineTools) -> bool:
    """Whether the content is at the file's own key though no index entry names it: an
    earlier upload whose answer or index write was lost (the server went away, a crash).
    Keys carry the hash (KeyTemplate insists), so same key and size means same content
    (read back to make sure when verify-after-upload is on). The file then carries on
    from there: the original is not sent again; thumbnail and index follow.
    """
    outcome, context = job.outcome, context_of(job)
    assert outcome.key and outcome.size is not None
    if not await context.inventory.may_hold(outcome.key, outcome.size):
        return False
    if await store_call(job, tools, context.store.object_size, outcome.key) != outcome.size:
        return False
    return not context.settings.verify_after_upload or await copy_matches(job, tools)


async def thumbnail_stage(job: FileJob, tools: PipelineTools) -> None:
    """Make the thumbnail as a stage of its own (a retry whose original is in)."""
    tools.enter(job, FileState.THUMBNAILING)
    job.thumbnail_pending()
    await make_thumbnail(job, tools)


async def make_thumbnail(job: FileJob, tools: PipelineTools) -> None:
    """Make the thumbnail (and the preview, when previews are made); one that cannot be
    made fails on its own, with the reason."""
    settings = context_of(job).settings
    preview = settings.preview if job.outcome.preview_key else None
    made = await _derive(job, tools, preview, NO_MEMORY_FOR_THUMBNAIL)
    if isinstance(made, str):
        job.thumbnail_failed(made)
    else:
        job.thumbnail_made(made.thumbnail, made.preview)


async def _derive(
    job: FileJob, tools: PipelineTools, preview: PreviewSpec | None, no_memory: str
) -> Derivatives | str:
    """The file's thumbnail (and preview) from one decode, or a sentence saying why not.

    Kept only if the file is still the content it was hashed as (looked at on the same
    thread, after the decode): its keys name that content, and the original may be on
    its way while the thumbnail is made."""
    path, spec, outcome = job.path, context_of(job).settings.thumbnail, job.outcome

    def made_from_the_hashed_content() -> Derivatives | str:
        made = tools.thumbnailer(path, spec, preview)
        if outcome.size is None or outcome.mtime_ns is None:
            return made
        problem = identity_problem(path, outcome.size, outcome.mtime_ns)
        if problem is None:
            return made
        return CHANGED_WHILE_THUMBNAILING if problem == _CHANGED else problem  # (gone, say)

    try:
        return await tools.run_cpu(made_from_the_hashed_content)
    except ThumbnailError as exc:
        return str(exc)
    except OSError as exc:
        return describe_os_error(exc)
    except MemoryError:
        return no_memory


async def retry_thumbnail_stage(job: FileJob, tools: PipelineTools) -> None:
    """Remake a failed thumbnail for an original already in the bucket."""
    if await unchanged(job, tools):
        await thumbnail_stage(job, tools)
    else:
        job.thumbnail_failed(CHANGED_SINCE_ORIGINAL)


async def upload_original_stage(job: FileJob, tools: PipelineTools) -> None:
    """Send the original, retrying passing failures, and make sure what stays in the
    bucket is the content that was hashed: never a mix of two versions of the file."""
    outcome = job.outcome
    assert outcome.key and job.fmt and outcome.sha256
    if outcome.original_in_bucket:
        return  # the duplicate check found it at its own key: nothing left to send
    # A small original is read whole and checked against its hash as it is sent (see
    # ObjectStore.start_upload): what lands is the hashed content, so the looks at the
    # file before and after, which a streamed upload needs, are not needed for it.
    streamed = (outcome.size or 0) > DIRECT_PUT_LIMIT
    if streamed:
        await ensure_unchanged(job, tools, CHANGED_BEFORE_UPLOAD)
    tools.enter(job, FileState.UPLOADING)
    await with_retries(
        job,
        tools,
        lambda: _send_original(job, tools),
        before_retry=lambda: ensure_unchanged(job, tools, CHANGED_WHILE_SENDING),
    )
    # A server that checks the ChecksumSHA256 we send refuses a body that changed since
    # hashing; one that does not (rclone) stores it. Either way: if the file moved on
    # while it was sent, what landed may be a mix, so it goes.
    problem = await problem_with(job, tools) if streamed else None
    if problem is not None:
        await remove_copy(
            job, tools, CHANGED_DURING_UPLOAD if problem == _CHANGED else GONE_DURING_UPLOAD
        )
    if context_of(job).settings.verify_after_upload and not await copy_matches(job, tools):
        await remove_copy(job, tools, VERIFY_MISMATCH)
    job.original_landed()
    context_of(job).inventory.wrote(outcome.key, outcome.size or 0)


async def _send_original(job: FileJob, tools: PipelineTools) -> None:
    """One try at sending the original; progress starts again from zero (a large one
    carries on from its stored parts: app.core.pipeline.multipart)."""
    job.reset_progress()
    tools.changed(job)
    store, outcome = context_of(job).store, job.outcome
    if (outcome.size or 0) >= MULTIPART_THRESHOLD:
        await send_in_parts(job, tools)
        return

    def progress(n: int) -> None:  # on transfer threads
        job.add_progress(n)
        tools.changed(job)

    in_one_go = (outcome.size or 0) <= DIRECT_PUT_LIMIT  # one request: one trip to a thread
    handles: list[UploadHandle] = []  # for a cancel to reach while the trip is under way

    def start() -> UploadHandle:
        handle = store.start_upload(
            job.path,
            outcome.key or "",
            content_type=outcome.content_type or "",
            sha256=outcome.sha256 or "",
            on_progress=progress,
        )
        handles.append(handle)
        if in_one_go:
            handle.result()
        return handle

    started = tools.loop.run_in_executor(tools.io, start)
    try:
        handle = await asyncio.shield(started)
        if not in_one_go:
            await tools.run_io(handle.result)
    except FileChanged:  # a small original is read and checked against its hash first
        raise StoreError(CHANGED_BEFORE_UPLOAD, permanent=True) from None
    except OSError as exc:  # ...and a file that cannot be read then was never sent
        reason = await tools.run_io(describe_unreadable, job.path, exc)
        raise StoreError(reason, permanent=True) from None
    except asyncio.CancelledError:
        # The transfer runs on s3transfer's threads whatever happens to this task: stop it,
        # and take out what reached the bucket anyway, before anyone sends this key again.
        job.cleanup = tools.spawn(
            _abandon_upload(tools, context_of(job), outcome.key or "", started, handles),
            name=f"abandon-{job.file_id}",
        )
        raise


async def _abandon_upload(
    tools: PipelineTools,
    context: PipelineContext,
    key: str,
    started: asyncio.Future[UploadHandle],
    handles: list[UploadHandle],
) -> None:
    """A cancelled file's upload must not land after its row says Cancelled."""
    store = context.store
    for handle in handles:  # started already: stop it before it sends, if it can
        handle.cancel()
    try:
        handle = await started
    except Exception:
        return  # it never started
    handle.cancel()
    with contextlib.suppress(Exception):  # cancelled, or done just before: either way
        await tools.run_io(handle.result)
    try:
        if await tools.run_io(store.object_size, key) is not None:
            # This file's key held nothing before (else there was nothing to send).
            await tools.run_io(store.delete_object, key)
            context.inventory.removed(key)
            log.info("removed %s, which a cancelled upload had already sent", key)
    except StoreError as exc:
        log.warning("a cancelled upload may have left %s in the bucket: %s", key, exc)


async def upload_thumbnail_stage(job: FileJob, tools: PipelineTools) -> None:
    outcome = job.outcome
    assert outcome.thumbnail_key and job.thumbnail_bytes is not None
    store, data = context_of(job).store, job.thumbnail_bytes
    try:
        await store_call(
            job,
            tools,
            lambda: store.put_bytes(
                outcome.thumbnail_key or "", data, content_type=THUMBNAIL_CONTENT_TYPE
            ),
        )
    except StoreError as exc:
        job.thumbnail_failed(f"The thumbnail could not be uploaded: {exc}")
        return
    job.thumbnail_landed()
    context_of(job).inventory.wrote(outcome.thumbnail_key, len(data))


async def upload_preview_stage(job: FileJob, tools: PipelineTools) -> str | None:
    """Send the display preview made with the thumbnail. One that cannot be sent leaves
    the photo uploaded, with a notice (also returned); the photo's next upload makes it
    again."""
    context = context_of(job)
    data, key, spec = job.preview_bytes, _preview_to_send(job), context.settings.preview
    if data is None or key is None or spec is None:
        return None
    try:
        await store_call(
            job, tools, lambda: context.store.put_bytes(key, data, content_type=spec.content_type)
        )
    except StoreError as exc:
        job.preview_bytes = None
        job.notice = _done_but(job, f"its preview could not be uploaded: {exc}")
        tools.changed(job)
        return job.notice
    job.preview_landed()
    context.inventory.wrote(key, len(data))
    return None


def _preview_to_send(job: FileJob) -> str | None:
    """The key of the preview upload_preview_stage sends now, if it sends one: made, with
    a key, and previews still wanted."""
    if job.preview_bytes is None or context_of(job).settings.preview is None:
        return None
    return job.outcome.preview_key


def _done_but(job: FileJob, problem: str) -> str:
    """A notice for a photo that is safe in the bucket though a later part failed."""
    done = "Already in the bucket" if job.duplicate else "Uploaded"
    return f"{done}, but {problem}"


def item_of(job: FileJob, context: PipelineContext | None = None) -> Item:
    """The item the collector gave this file or its batch, else the one its folder names
    (when the settings say so). Fixed once the file is keyed. `context`: where it goes
    (default: where it went when it started)."""
    if job.item is not None:
        return job.item
    settings = (context or context_of(job)).settings
    if settings.item is not None:
        return settings.item
    return default_item(job.outcome.folder) if settings.item_from_folder else Item()


async def derivatives_and_sidecar_stage(job: FileJob, tools: PipelineTools) -> None:
    """Once the original is in: its thumbnail, preview and sidecar go side by side. On a
    link with long round trips each would be a wait of its own, and none needs another's
    answer. The sidecar names the derivatives on their way; one that then does not land
    is taken out of it by a second write, so a sidecar names only what is there, as when
    they went one after the other."""
    outcome = job.outcome
    thumbnail = outcome.thumbnail_key if job.thumbnail_bytes is not None else None
    if outcome.thumbnail_in_bucket:
        thumbnail = None  # (there already: nothing to send)
    preview = _preview_to_send(job)
    landing = tuple(key for key in (thumbnail, preview) if key is not None)
    sends: list[Awaitable[str | None]] = [upload_preview_stage(job, tools)]
    if thumbnail is not None:
        sends.append(upload_thumbnail_stage(job, tools))
    writes_sidecar = not outcome.metadata_in_bucket
    if writes_sidecar:
        sends.append(metadata_stage(job, tools, landing=landing))
    said = [notice for notice in await side_by_side(*sends) if notice is not None]
    if said:  # (another's "retrying..." may have replaced it meanwhile, then cleared it)
        job.notice = said[-1]  # the sidecar's, as when they went one after the other
    missed = (thumbnail is not None and not outcome.thumbnail_in_bucket) or (
        preview is not None and not outcome.preview_in_bucket
    )
    if writes_sidecar:
        if missed and outcome.metadata_in_bucket:
            await _rewrite_sidecar(job, tools)
        return
    # A retry: the sidecar in the bucket was written without what lands only now.
    added_thumbnail = thumbnail is not None and outcome.thumbnail_in_bucket
    added_preview = preview is not None and outcome.preview_in_bucket
    if added_thumbnail or added_preview:
        await _name_in_sidecar(job, tools, thumbnail=added_thumbnail, preview=added_preview)
    if job.item_given and job.sidecar_item != item_of(job):
        await rewrite_item_stage(job, tools)  # (edited while its retry was queued)


async def side_by_side(*steps: Awaitable[T]) -> list[T]:
    """Run `steps` at once and return their results, in order. The first that raises
    cancels the others (awaited, so none is left changing the job) and its exception goes
    on, as it is."""
    tasks = [asyncio.ensure_future(step) for step in steps]
    try:
        for task in asyncio.as_completed(tasks):
            await task
        return [task.result() for task in tasks]
    finally:
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)


async def metadata_stage(
    job: FileJob, tools: PipelineTools, *, landing: Collection[str] = ()
) -> str | None:
    """Write the metadata sidecar beside the original, naming the derivatives in the
    bucket and those `landing` (on their way). One that cannot be written leaves the file
    uploaded, with a notice (also returned); the next upload of the photo writes it.
    Written again if the collector changed the item while it was on its way."""
    outcome = job.outcome
    assert outcome.key
    if job.facts is None and job.fmt is not None and await unchanged(job, tools):
        # (A retry after a restart reads them now: only from the content it uploaded.)
        job.facts = await tools.run_cpu(read_photo_facts, job.path, job.fmt)
    while job.sidecar_item != item_of(job):
        problem = await _write_sidecar(job, tools, item_of(job), landing)
        if problem is not None:
            return problem
    return None


async def _rewrite_sidecar(job: FileJob, tools: PipelineTools) -> None:
    """The sidecar went out naming a derivative that did not land: written again, naming
    only what is in the bucket (if that fails, Retry failed writes it)."""
    await _write_sidecar(job, tools, job.sidecar_item or item_of(job), ())


async def _write_sidecar(
    job: FileJob, tools: PipelineTools, item: Item, landing: Collection[str]
) -> str | None:
    """One sidecar written from the file's outcome; the notice (also set) if it could
    not be."""
    outcome, context = job.outcome, context_of(job)
    body = sidecar_json(
        outcome,
        job.facts or PhotoFacts(),
        item=item,
        keep_gps=context.settings.keep_gps,
        landing=landing,
    )
    try:
        await _put_sidecar(job, tools, body, item)
    except StoreError as exc:
        job.sidecar_failed(sidecar_key(outcome.key or ""))
        job.notice = _done_but(job, f"{SIDECAR_NOT_WRITTEN}: {exc}")
        tools.changed(job)
        return job.notice
    return None


async def _put_sidecar(job: FileJob, tools: PipelineTools, body: bytes, item: Item | None) -> None:
    context = context_of(job)
    key = sidecar_key(job.outcome.key or "")
    store = context.store
    await store_call(job, tools, lambda: store.put_bytes(key, body, content_type=SIDECAR_TYPE))
    job.described(key, item)
    context.inventory.wrote(key, len(body))


async def rewrite_item_stage(job: FileJob, tools: PipelineTools) -> None:
    """The collector changed the item of a photo in the bucket: its sidecar says so now,
    everything else in it kept as written. Its keys never move. A photo without a
    sidecar of ours (one uploaded before sidecars) gets one made from the file."""
    assert job.outcome.key
    if job.sidecar_item == item_of(job):
        return  # written with it already (it was set while the file was on its way)
    earlier = _other_problem(job.notice)  # (why its index entry is missing, say: kept)
    while job.sidecar_item != item_of(job):
        item = item_of(job)
        try:
            stored = await _stored_sidecar(job, tools)
            current = stored_item(stored) if stored is not None else None
            body = None
            if stored is not None and current is not None:
                # Only the fields the collector changed: the rest as the bucket has it
                # (this run may not know them: a photo restored from the journal).
                item = job.item = current.changed(job.item_changes)
                body = sidecar_with(stored, item=item)
            if body is None:  # none of ours there: one made from the file
                job.notice = None
                await metadata_stage(job, tools)
                job.notice = _also(earlier, job.notice or ITEM_SAVED)  # (it says if not)
                return
            await _put_sidecar(job, tools, body, item)
        except StoreError as exc:
            job.notice = _also(earlier, f"{ITEM_NOT_SAVED}: {exc}")
            return
    job.notice = _also(earlier, ITEM_SAVED)


async def _stored_sidecar(job: FileJob, tools: PipelineTools) -> bytes | None:
    """The photo's sidecar as the bucket holds it, or None."""
    key = sidecar_key(job.outcome.key or "")
    return await store_call(job, tools, context_of(job).store.get_bytes, key, SIDECAR_LIMIT)


def _other_problem(notice: str | None) -> str | None:
    """A notice that says something else went wrong than the sidecar or the item."""
    if notice is None or notice == ITEM_SAVED or notice.startswith(ITEM_NOT_SAVED):
        return None
    return None if SIDECAR_NOT_WRITTEN in notice else notice


def _also(earlier: str | None, notice: str) -> str:
    return notice if earlier is None else f"{earlier} {notice}"


async def record_stage(job: FileJob, tools: PipelineTools) -> None:
    """Write the content-hash index entry; an entry that cannot be written leaves the
    file uploaded, with a notice, for Retry failed to finish."""
    outcome = job.outcome
    assert outcome.sha256 and outcome.key and outcome.content_type and outcome.size is not None
    entry = IndexEntry(
        key=outcome.key,
        thumbnail_key=outcome.thumbnail_key if outcome.thumbnail_in_bucket else None,
        size=outcome.size,
        content_type=outcome.content_type,
        preview_key=outcome.preview_key if outcome.preview_in_bucket else None,
        metadata_key=outcome.metadata_key,  # (where it belongs, written or not)
    )
    context = context_of(job)
    try:
        await store_call(job, tools, context.store.record_hash, outcome.sha256, entry)
    except StoreError as exc:
        job.indexed(entry, written=False)
        job.notice = _done_but(job, f"the duplicate index could not be updated: {exc}")
    else:
        job.indexed(entry, written=True)
        context.inventory.recorded(outcome.sha256, len(entry.to_json()))
