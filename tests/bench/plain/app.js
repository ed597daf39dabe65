// The plain page's directory list (index.html says what it is for).
const ROW = 44;
const EXTRA = 4;
const statusLine = document.querySelector('[role="status"]');
const search = document.querySelector('input');
const viewport = document.getElementById('viewport');
const list = document.querySelector('ul');
/** Every entry in the server's order (by name), with its lowercase search text. */
let entries = [];
let shown = entries;
let query = '';
let pages = [];

/** What a search looks in, as the console does: the name, the numbers and the department,
 * one per line so that a term never matches across two of them. */
const text = (entry) => [entry.name, ...entry.numbers, entry.department].join('\n').toLowerCase();

/** Draws the rows in view (and EXTRA beyond), reusing the list items. */
function draw() {
  list.style.height = `${shown.length * ROW}px`;
  const first = Math.max(0, Math.floor(viewport.scrollTop / ROW) - EXTRA);
  const last = Math.min(shown.length, Math.ceil((viewport.scrollTop + viewport.clientHeight) / ROW) + EXTRA);
  const count = Math.max(0, last - first);
  while (list.children.length > count) list.lastChild.remove();
  while (list.children.length < count) {
    const item = document.createElement('li');
    item.setAttribute('role', 'listitem');
    item.append(document.createElement('strong'), document.createElement('small'));
    list.append(item);
  }
  for (let i = 0; i < count; i++) {
    const entry = shown[first + i];
    const item = list.children[i];
    item.style.top = `${(first + i) * ROW}px`;
    item.firstChild.textContent = entry.name;
    item.lastChild.textContent = `${entry.title} · ${entry.department} · ${entry.numbers.join(', ')}`;
  }
}

function filter() {
  const next = search.value.trim().toLowerCase();
  // A query typed on from the previous one searches only the previous matches.
  const from = next.startsWith(query) && query !== '' ? shown : entries;
  query = next;
  shown = next === '' ? entries : from.filter((entry) => entry.search.includes(next));
  viewport.scrollTop = 0;
  draw();
}

function connect() {
  const socket = new WebSocket(`${location.protocol === 'https:' ? 'wss' : 'ws'}://${location.host}/ws`);
  socket.onopen = () => socket.send(JSON.stringify({ type: 'hello', version: 2 }));
  socket.onmessage = (event) => {
    const frame = JSON.parse(event.data);
    if (frame.type === 'directory_snapshot') {
      for (const entry of frame.entries) entry.search = text(entry);
      pages.push(frame.entries);
      // Rows from the first page on: the page shows what has arrived.
      if (pages.length === 1 || !frame.more) {
        entries = pages.flat();
        if (!frame.more) pages = [];
        else pages = [entries];
        query = '';
        filter();
      }
    } else if (frame.type === 'conversations_snapshot') {
      statusLine.textContent = 'Connected';
    }
  };
}

search.addEventListener('input', filter);
viewport.addEventListener('scroll', draw, { passive: true });
connect();
