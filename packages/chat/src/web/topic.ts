/**
 * The open room's topic in the header, under its name: one line (cut with "…", the whole text in
 * its tooltip; a screen reader reads it whole), and for whoever may set it (ChatState.maySetTopic:
 * the owner, either person of a direct message) an "Edit topic" button that opens an input in its
 * place: Enter saves, Escape cancels, and the focus goes back to the button either way. A refusal
 * is said under it (ChatState.topicError). The change itself comes back as the room's `topic`
 * event (room-state.ts), which also writes the line in the conversation.
 */
import { MAX_TOPIC_CHARS } from '../shared/protocol.js';
import { byId } from './dom.js';
import type { ChatState } from './room-state.js';

/** The room whose topic is being edited (the input shown), if any. */
const ui = { editing: null as string | null };

export function renderTopic(state: ChatState): void {
  const room = state.rooms.get(state.active);
  const topic = room?.topic ?? '';
  const line = byId('room-topic');
  if (line.textContent !== topic) line.textContent = topic;
  line.title = topic;
  line.hidden = topic === '';
  if (ui.editing !== null && ui.editing !== state.active) ui.editing = null;
  const may = room !== undefined && state.maySetTopic(room.name);
  if (!may) ui.editing = null;
  const editing = ui.editing !== null;
  byId('edit-topic').hidden = !may || editing;
  byId('topic-form').hidden = !editing;
  if (editing) line.hidden = true;
  const error = byId('topic-error');
  if (error.textContent !== state.topicError) error.textContent = state.topicError;
  error.hidden = state.topicError === '';
}

/** Wires the button and the input; `save` sends the topic (or says why it cannot, offline). */
export function setUpTopic(state: ChatState, save: (room: string, text: string) => void): void {
  const input = byId<HTMLInputElement>('topic-input');
  const button = byId<HTMLButtonElement>('edit-topic');
  const close = () => {
    ui.editing = null;
    renderTopic(state);
    button.focus();
  };
  button.addEventListener('click', () => {
    const room = state.rooms.get(state.active);
    if (!room) return;
    ui.editing = room.name;
    state.topicError = '';
    input.value = room.topic;
    renderTopic(state);
    input.focus();
    input.select();
  });
  byId('topic-form').addEventListener('submit', (event) => {
    event.preventDefault();
    const room = ui.editing;
    if (room === null) return;
    const text = input.value.trim();
    // Said here, before a round trip: the server counts code points too (validate.ts).
    if ([...text].length > MAX_TOPIC_CHARS) {
      state.topicError = `A topic has at most ${MAX_TOPIC_CHARS} characters.`;
      renderTopic(state);
      return;
    }
    close();
    if (text !== state.rooms.get(room)?.topic) save(room, text);
  });
  input.addEventListener('keydown', (event) => {
    if (event.key !== 'Escape') return;
    event.preventDefault();
    event.stopPropagation();
    close();
  });
}
