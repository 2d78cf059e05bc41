/**
 * Files in the page: pasting or dropping a file (or choosing one with Attach) uploads it to the
 * open room with its progress shown in a tray above the composer; the next message in that room
 * sends the uploaded ones (each room keeps its own, as its draft), and those that failed stay there
 * marked, with Retry when the same bytes may get through, until removed. One refused because the
 * server's storage was away (503 `unavailable`) is sent again by itself once the server says it is
 * back (serviceBack: its `service` notice, or a welcome), once. Messages show images as
 * thumbnails that open full size in a viewer, and other files as download links with their size.
 *
 * Uploads are XMLHttpRequests (fetch reports no upload progress) of the raw bytes to
 * POST /api/attachments (docs/chat-protocol.md, section 11). Nothing here turns a file or its name
 * into markup: names are text, images are <img> elements whose src is the server's URL for the
 * file, which the server serves with its own type, nosniff and a sandboxing CSP.
 */
import { type Attachment, MAX_ATTACHMENTS } from '../shared/protocol.js';
import { el } from './dom.js';

/** The server's default cap (it answers 413 above its own): checked here to fail fast. */
export const MAX_FILE_BYTES = 5 * 1024 * 1024;
/**
 * An upload that moves no byte for this long fails (with Retry): the server or the path to it has
 * stopped answering, and the browser alone would wait minutes for TCP to give up. While bytes go,
 * the browser reports progress every 50 ms or so, even at the slowest link the server still serves
 * (32 KiB/s, timeouts.ts); once the last byte is sent, the server stores the file and answers at
 * once, or at once with 503 if its storage is away. A network hiccup (a phone changing cells, Wi-Fi
 * roaming) pauses a few seconds; 30 s is well past that, and the server's heartbeat takes as long
 * to find a dead WebSocket (heartbeatMs), so the page says both about the same time.
 */
export const UPLOAD_STALL_MS = 30_000;
const THUMB_W = 240;
const THUMB_H = 180;

export function fileUrl(id: string): string {
  return `/api/attachments/${encodeURIComponent(id)}`;
}

export function formatSize(bytes: number): string {
  if (bytes < 1024) return `${bytes} B`;
  if (bytes < 1024 * 1024) return `${(bytes / 1024).toFixed(bytes < 10 * 1024 ? 1 : 0)} KB`;
  return `${(bytes / (1024 * 1024)).toFixed(1)} MB`;
}

/** The thumbnail's size: the image scaled down (never up) to fit THUMB_W x THUMB_H. */
export function thumbSize(width: number, height: number): { width: number; height: number } {
  const scale = Math.min(1, THUMB_W / width, THUMB_H / height);
  return { width: Math.max(1, Math.round(width * scale)), height: Math.max(1, Math.round(height * scale)) };
}

let viewer: HTMLDialogElement | null = null;

/** A modal showing one image full size (Escape, the button or a click outside close it). */
function showImage(file: Attachment): void {
  if (!viewer) {
    viewer = el('dialog');
    viewer.id = 'attachment-viewer';
    const close = el('button', 'viewer-close', 'Close');
    close.type = 'button';
    close.addEventListener('click', () => viewer?.close());
    const img = el('img');
    const caption = el('p', 'viewer-caption');
    const open = el('a', 'viewer-open', 'Open in a new tab');
    open.target = '_blank';
    open.rel = 'noopener noreferrer';
    viewer.append(close, img, caption, open);
    const dialog = viewer;
    dialog.addEventListener('click', (event) => {
      if (event.target === dialog) dialog.close();
    });
    document.body.append(viewer);
  }
  const img = viewer.querySelector('img') as HTMLImageElement;
  img.src = fileUrl(file.id);
  img.alt = file.name;
  (viewer.querySelector('.viewer-caption') as HTMLElement).textContent =
    `${file.name} — ${file.width} × ${file.height}, ${formatSize(file.size)}`;
  (viewer.querySelector('.viewer-open') as HTMLAnchorElement).href = fileUrl(file.id);
  viewer.showModal();
}

/** A message's files: thumbnails for images, download links for the rest. */
export function renderAttachments(files: readonly Attachment[]): HTMLElement {
  const list = el('ul', 'attachments');
  for (const file of files) {
    const li = el('li');
    const link = el('a');
    link.href = fileUrl(file.id);
    if (file.type.startsWith('image/') && file.width && file.height) {
      li.className = 'attachment-image';
      const img = el('img');
      const size = thumbSize(file.width, file.height);
      img.width = size.width;
      img.height = size.height;
      img.loading = 'lazy';
      img.alt = file.name;
      img.src = link.href;
      link.title = `${file.name} (${formatSize(file.size)}) — open full size`;
      link.append(img);
      link.addEventListener('click', (event) => {
        if (event.button !== 0 || event.ctrlKey || event.metaKey || event.shiftKey) return;
        event.preventDefault();
        showImage(file);
      });
    } else {
      li.className = 'attachment-file';
      link.download = file.name;
      link.append(
        el('span', 'attachment-name', file.name),
        el('span', 'attachment-size', formatSize(file.size)),
      );
      link.title = `Download ${file.name}`;
    }
    li.append(link);
    list.append(li);
  }
  return list;
}

interface Upload {
  room: string;
  name: string;
  size: number;
  state: 'uploading' | 'done' | 'failed';
  file?: Attachment;
  error?: string;
  xhr?: XMLHttpRequest;
  /** The bytes, kept while an upload may be retried (a failure the same bytes may get past). */
  source?: File;
  /** Refused because storage was away: serviceBack() sends it again. */
  awaitsService?: boolean;
  /** Got no answer (the connection failed, or the upload stalled): reconnected() sends it again. */
  awaitsConnection?: boolean;
  /** How many times the service had come back (AttachmentTray.#serviceBacks) when it was sent. */
  sentAt?: number;
  node: HTMLLIElement;
  progress: HTMLProgressElement;
  status: HTMLElement;
  retry: HTMLButtonElement;
}

export interface TrayHost {
  /** The room uploads go to (the open room), or null if none. */
  room(): string | null;
  /** The room's name as the page shows it. */
  label(room: string): string;
  /** A file was uploaded (also on a retry) or removed by the user: the failed ones may be fewer. */
  changed?(): void;
  /** Whether the chat is connected (false: an upload failing for the connection says offline). */
  online?(): boolean;
}

/** Uploads waiting to be sent with the next message, shown above the composer. */
export class AttachmentTray {
  readonly #host: TrayHost;
  readonly #list: HTMLUListElement;
  readonly #input: HTMLTextAreaElement;
  readonly #uploads: Upload[] = [];
  /** The room whose files the tray shows (null: all). */
  #shown: string | null = null;
  /** How many times serviceBack() was called: tells a 503 older than the last return apart. */
  #serviceBacks = 0;

  constructor(host: TrayHost, composer: HTMLFormElement, input: HTMLTextAreaElement, dropZone: HTMLElement) {
    this.#host = host;
    this.#input = input;
    this.#list = el('ul');
    this.#list.id = 'attachment-tray';
    this.#list.setAttribute('aria-label', 'Files to send');
    this.#list.hidden = true;
    composer.prepend(this.#list);

    const picker = el('input');
    picker.type = 'file';
    picker.multiple = true;
    picker.hidden = true;
    picker.id = 'attach-input';
    const attach = el('button', 'secondary attach', 'Attach');
    attach.type = 'button';
    attach.id = 'attach-button';
    attach.title = 'Attach files (or paste or drop them here)';
    attach.addEventListener('click', () => picker.click());
    picker.addEventListener('change', () => {
      this.add([...(picker.files ?? [])]);
      picker.value = '';
    });
    // After the text box: Shift+Tab from it still reaches the conversation first.
    input.after(attach, picker);

    input.addEventListener('paste', (event) => {
      const files = [...(event.clipboardData?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      this.add(files);
    });
    dropZone.addEventListener('dragover', (event) => {
      if (!event.dataTransfer?.types.includes('Files')) return;
      event.preventDefault();
      event.dataTransfer.dropEffect = 'copy';
      dropZone.classList.add('dropping');
    });
    dropZone.addEventListener('dragleave', (event) => {
      if (event.target === dropZone) dropZone.classList.remove('dropping');
    });
    dropZone.addEventListener('drop', (event) => {
      dropZone.classList.remove('dropping');
      const files = [...(event.dataTransfer?.files ?? [])];
      if (files.length === 0) return;
      event.preventDefault();
      this.add(files);
    });
  }

  /** Uploads still running for `room` (the message must wait for them). */
  busy(room: string): boolean {
    return this.#uploads.some((u) => u.room === room && u.state === 'uploading');
  }

  /**
   * The uploaded files for `room`, removed from the tray. Its failed ones stay there, marked, to
   * retry or remove (failed() counts them: the page says the message went without them). Other
   * rooms' stay: they are part of those rooms' drafts.
   */
  take(room: string): Attachment[] {
    const files: Attachment[] = [];
    for (const upload of this.#uploads.filter((u) => u.room === room && u.file)) {
      if (upload.file) files.push(upload.file);
      this.#remove(upload);
    }
    return files;
  }

  /** How many of `room`'s files failed to upload (left in the tray by take()). */
  failed(room: string): number {
    return this.#uploads.filter((u) => u.room === room && u.state === 'failed').length;
  }

  /**
   * Shows only `room`'s files (the composer now holds that room's draft, main.ts): each room keeps
   * its own until sent, removed, or the page is reloaded (uploads are not kept across a reload).
   */
  show(room: string): void {
    this.#shown = room;
    this.#refresh();
  }

  /** `room` is gone (left or deleted): its files go, uploads stopped. Returns how many there were. */
  dropRoom(room: string): number {
    const gone = this.#uploads.filter((u) => u.room === room);
    this.#drop(gone);
    return gone.length;
  }

  /** Every room's files go, uploads stopped: signed out, or the tab is now another account's. */
  clear(): void {
    this.#drop([...this.#uploads]);
  }

  /**
   * Removes `gone`, uploads stopped. The focus on one of their Retry or × buttons (its room deleted
   * or the user removed from it meanwhile) goes to the text box, never to the page's body; #refresh
   * cannot tell once the focused line has left the tray.
   */
  #drop(gone: Upload[]): void {
    const focused = gone.some((u) => u.node.contains(document.activeElement));
    for (const upload of gone) {
      upload.xhr?.abort();
      this.#remove(upload);
    }
    if (focused) this.#input.focus();
  }

  #remove(upload: Upload): void {
    const i = this.#uploads.indexOf(upload);
    if (i >= 0) this.#uploads.splice(i, 1);
    upload.node.remove();
    this.#refresh();
  }

  #refresh(): void {
    let shown = 0;
    // Another room opened from the keyboard (Alt+↓) while on a file's Retry or ×: that file's line
    // is hidden with the room's draft; the focus goes to the text box, not to the page's body.
    const focused = this.#list.contains(document.activeElement);
    for (const upload of this.#uploads) {
      upload.node.hidden = this.#shown !== null && upload.room !== this.#shown;
      if (!upload.node.hidden) shown++;
    }
    this.#list.hidden = shown === 0;
    if (focused && (this.#list.hidden || document.activeElement?.closest('.upload[hidden]')))
      this.#input.focus();
  }

  /**
   * The server's storage is back (a `service` notice saying so, or a welcome, which the server
   * could only give by reading it): the uploads it refused meanwhile are sent again, each once.
   * An upload in flight or already sent again is not touched, so a second notice sends nothing.
   */
  serviceBack(): void {
    this.#serviceBacks++;
    for (const upload of this.#uploads)
      if (upload.state === 'failed' && upload.awaitsService && upload.source) this.#again(upload);
  }

  /**
   * The chat is connected again (a welcome), in `rooms`: the uploads of those rooms that got no
   * answer (failed for the connection, or stalled) are sent again, each once, their outcome
   * replacing the failure shown. One in flight, done or refused for good is not touched.
   */
  reconnected(rooms: readonly string[]): void {
    for (const upload of this.#uploads)
      if (
        upload.state === 'failed' &&
        upload.awaitsConnection &&
        upload.source &&
        rooms.includes(upload.room)
      )
        this.#again(upload);
  }

  /** Sends a failed upload's bytes again, unless the room has a message's worth of files since. */
  #again(upload: Upload): boolean {
    if (!upload.source) return false;
    const taken = this.#uploads.filter(
      (u) => u !== upload && u.room === upload.room && u.state !== 'failed',
    ).length;
    if (taken >= MAX_ATTACHMENTS) {
      // Others were added while this one had failed: it would be one too many for the message.
      this.#fail(upload, `at most ${MAX_ATTACHMENTS} files per message`);
      return false;
    }
    this.#upload(upload, upload.source);
    return true;
  }

  add(files: File[]): void {
    const room = this.#host.room();
    if (!room) return;
    for (const file of files) this.#start(room, file);
  }

  /**
   * Files uploaded before, given back (a refused message taken back to edit, main.ts): shown ready
   * to go with the next message, as if just uploaded.
   */
  restore(room: string, files: readonly Attachment[]): void {
    for (const file of files) {
      const upload = this.#entry(room, file.name, file.size);
      upload.state = 'done';
      upload.file = file;
      upload.progress.value = 1;
      upload.node.classList.add('done');
      upload.status.textContent = file.type.startsWith('image/') ? 'image ready' : 'ready';
    }
  }

  /** A line in the tray for a file, with its remove button. */
  #entry(room: string, name: string, size: number): Upload {
    const node = el('li', 'upload');
    const progress = el('progress');
    progress.max = 1;
    progress.value = 0;
    const status = el('span', 'upload-status', 'uploading…');
    status.setAttribute('role', 'status');
    const retry = el('button', 'link upload-retry', 'Retry');
    retry.type = 'button';
    retry.setAttribute('aria-label', `Retry ${name}`);
    retry.hidden = true;
    const remove = el('button', 'link upload-remove', '×');
    remove.type = 'button';
    remove.setAttribute('aria-label', `Remove ${name}`);
    const label = el('span', 'upload-name', name);
    label.title = `${name} (${formatSize(size)}) for ${this.#host.label(room)}`;
    node.append(label, progress, status, retry, remove);
    const upload: Upload = { room, name, size, state: 'uploading', node, progress, status, retry };
    retry.addEventListener('click', () => {
      if (!upload.source || upload.state !== 'failed') return;
      this.#again(upload);
    });
    remove.addEventListener('click', () => {
      upload.xhr?.abort();
      // The focus was on this ×, which goes with its file: it moves to the next file's × (or the
      // one before), or to the text box after the last, never to the page's body.
      const shown = this.#uploads.filter((u) => !u.node.hidden);
      const i = shown.indexOf(upload);
      const next = shown[i + 1] ?? shown[i - 1];
      const hadFocus = document.activeElement === remove;
      this.#remove(upload);
      if (hadFocus) (next?.node.querySelector<HTMLElement>('.upload-remove') ?? this.#input).focus();
      this.#host.changed?.();
    });
    this.#uploads.push(upload);
    this.#list.append(node);
    this.#refresh();
    return upload;
  }

  #start(room: string, file: File): void {
    const name = file.name || `pasted.${file.type.split('/')[1] ?? 'bin'}`;
    // Counted before this file's entry: the server takes at most MAX_ATTACHMENTS per message.
    const taken = this.#uploads.filter((u) => u.room === room && u.state !== 'failed').length;
    const upload = this.#entry(room, name, file.size);
    if (taken >= MAX_ATTACHMENTS) {
      this.#fail(upload, `at most ${MAX_ATTACHMENTS} files per message`);
      return;
    }
    if (file.size > MAX_FILE_BYTES) {
      this.#fail(upload, `too large (${formatSize(MAX_FILE_BYTES)} at most)`);
      return;
    }
    if (file.size === 0) {
      this.#fail(upload, 'the file is empty');
      return;
    }
    this.#upload(upload, file);
  }

  /** Sends the bytes (again, after a failure the same bytes may get past: Retry). */
  #upload(upload: Upload, file: File): void {
    const { room, name, node, progress, status } = upload;
    upload.state = 'uploading';
    upload.source = file;
    upload.sentAt = this.#serviceBacks;
    delete upload.awaitsService;
    delete upload.awaitsConnection;
    delete upload.error;
    node.classList.remove('failed');
    progress.hidden = false;
    progress.value = 0;
    status.textContent = 'uploading…';
    status.setAttribute('role', 'status');
    // The focused Retry hides while the file uploads again (pressed, or sent again by itself when
    // storage is back): the focus stays on this file's ×, never falls to the page's body.
    const retryFocused = document.activeElement === upload.retry;
    upload.retry.hidden = true;
    if (retryFocused) node.querySelector<HTMLElement>('.upload-remove')?.focus();
    const xhr = new XMLHttpRequest();
    upload.xhr = xhr;
    xhr.open('POST', `/api/attachments?${new URLSearchParams({ room, name })}`);
    xhr.setRequestHeader('content-type', 'application/octet-stream');
    xhr.responseType = 'json';
    // No progress for UPLOAD_STALL_MS: given up. The clock starts again on each sign of life: bytes
    // sent, the last one sent (the answer is then awaited), bytes of the answer.
    let stall: ReturnType<typeof setTimeout> | undefined;
    const alive = () => {
      clearTimeout(stall);
      stall = setTimeout(() => {
        if (upload.xhr !== xhr) return;
        xhr.abort(); // fires no `error`: said once, here
        this.#lost(upload, 'upload failed — the server stopped answering');
      }, UPLOAD_STALL_MS);
    };
    alive();
    xhr.upload.addEventListener('progress', (event) => {
      alive();
      if (event.lengthComputable) progress.value = event.loaded / event.total;
    });
    xhr.upload.addEventListener('load', alive);
    xhr.addEventListener('progress', alive);
    xhr.addEventListener('loadend', () => clearTimeout(stall));
    xhr.addEventListener('load', () => {
      const body = (xhr.response ?? {}) as Partial<Attachment> & { message?: string; error?: string };
      if (xhr.status === 201 && typeof body.id === 'string') {
        upload.state = 'done';
        upload.file = body as Attachment;
        progress.value = 1;
        node.classList.add('done');
        delete upload.source;
        status.textContent = body.type?.startsWith('image/') ? 'image ready' : 'ready';
        this.#host.changed?.();
      } else if (xhr.status === 503 && body.error === 'unavailable') {
        // Storage is away: nothing was stored. Sent again when the server says it is back; at
        // once if it said so while this one was on its way (the 503 is older than that notice).
        if (upload.sentAt !== this.#serviceBacks) this.#again(upload);
        else {
          this.#fail(
            upload,
            `${body.message ?? 'the server cannot store files now'} — sent again when it recovers`,
            true,
          );
          upload.awaitsService = true;
        }
      } else if (xhr.status === 413) this.#fail(upload, `too large (${formatSize(MAX_FILE_BYTES)} at most)`);
      // A wait, or the server's trouble: the same bytes may get through later (Retry).
      else if (xhr.status === 429)
        this.#fail(upload, body.message ?? 'too many uploads — wait a moment', true);
      else this.#fail(upload, body.message ?? `upload failed (${xhr.status})`, xhr.status >= 500);
    });
    xhr.addEventListener('error', () => this.#lost(upload, 'upload failed — check the connection'));
    xhr.send(file);
  }

  /**
   * The upload got no answer: failed with Retry (`message`), and sent again by itself once the
   * chat is connected again (reconnected). The chat offline, that is what is said.
   */
  #lost(upload: Upload, message: string): void {
    const offline = this.#host.online?.() === false;
    this.#fail(upload, offline ? 'offline — sent again once the chat is back online' : message, true);
    upload.awaitsConnection = true;
  }

  /** Marks the upload failed, saying why; `retriable`: the same bytes may get through (Retry). */
  #fail(upload: Upload, message: string, retriable = false): void {
    upload.state = 'failed';
    upload.error = message;
    delete upload.xhr;
    if (!retriable) delete upload.source;
    // Retry pressed, refused at once for good (the room has a message's worth of files since): the
    // focused Retry hides, the focus goes to the file's ×, never to the page's body.
    const retryFocused = document.activeElement === upload.retry;
    upload.retry.hidden = !retriable;
    if (retryFocused && !retriable) upload.node.querySelector<HTMLElement>('.upload-remove')?.focus();
    upload.node.classList.add('failed');
    upload.progress.hidden = true;
    upload.status.textContent = message;
    upload.status.setAttribute('role', 'alert');
  }
}
