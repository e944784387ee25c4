// The Prism console's one script: keeps the session in sessionStorage, sends it as a bearer
// header with each fragment request (like any API client), and puts the HTML the server
// rendered in place. No markup is built here from data: the server renders and escapes it.
'use strict';
(() => {
  const KEY = 'prism.console.session';
  const $ = (s, root = document) => root.querySelector(s);
  const $$ = (s, root = document) => Array.from(root.querySelectorAll(s));
  let session = null;
  try { session = JSON.parse(sessionStorage.getItem(KEY) || 'null'); } catch (_) { session = null; }

  function save(s) {
    session = s;
    if (s) sessionStorage.setItem(KEY, JSON.stringify(s)); else sessionStorage.removeItem(KEY);
  }

  async function auth(action, body) {
    return fetch('/console/auth/' + action, {
      method: 'POST',
      headers: { 'Content-Type': 'application/json' },
      body: JSON.stringify(body),
    });
  }

  // A fragment as the signed-in caller; one refresh when the access token has expired.
  async function fragment(url, retried) {
    if (!session) throw new Error('not signed in');
    const res = await fetch(url, { headers: { Authorization: 'Bearer ' + session.access_token } });
    if (res.status === 401 && !retried && session.refresh_token) {
      const r = await auth('refresh', { refresh_token: session.refresh_token });
      if (r.ok) {
        const t = await r.json();
        save({ access_token: t.access_token, refresh_token: t.refresh_token });
        return fragment(url, true);
      }
    }
    if (res.status === 401) {
      save(null);
      render();
      throw new Error('signed out');
    }
    return res.text();
  }

  function query(form) {
    const q = new URLSearchParams();
    for (const [k, v] of new FormData(form)) {
      const field = form.elements[k];
      if (v !== '' && !(field && field.dataset && 'local' in field.dataset)) q.append(k, v);
    }
    return q;
  }

  async function submit(form) {
    const target = $(form.dataset.target);
    try {
      target.setAttribute('aria-busy', 'true');
      target.innerHTML = await fragment(form.dataset.fragment + '?' + query(form));
      if (form.elements.after) form.elements.after.value = '';
    } catch (_) { /* signed out: the sign-in view is showing */ }
    target.removeAttribute('aria-busy');
  }

  function view(name) {
    // Only the page's own views: the hash is the address bar's, not ours.
    const found = $$('[data-view]').some((s) => s.dataset.view === name) ? name : 'timeline';
    $$('[data-view]').forEach((s) => { s.hidden = s.dataset.view !== found; });
    $$('nav a').forEach((a) => a.classList.toggle('current', a.getAttribute('href') === '#' + found));
    const form = $('[data-view="' + found + '"] form');
    if (form && !$(form.dataset.target).hasChildNodes() && form.checkValidity()) submit(form);
  }

  async function render() {
    const signedIn = !!session;
    $('#signin').hidden = signedIn;
    $('#app').hidden = !signedIn;
    $('#sign-out').hidden = !signedIn;
    if (!signedIn) { $('#who').textContent = ''; return; }
    try {
      $('#who').innerHTML = await fragment('/console/me');
      const options = $('#workspace-options');
      if (options) $('#workspaces').replaceChildren(options.content.cloneNode(true));
      view(location.hash.slice(1));
    } catch (_) { /* signed out */ }
  }

  // Following the head: the rows after the last one shown, every two seconds.
  async function follow() {
    const form = $('[data-view="timeline"] form');
    const out = $('#timeline-out .timeline');
    if (!session || !form || !form.elements.follow.checked || !out || $('#view-timeline').hidden) return;
    const q = query(form);
    q.set('after', out.dataset.head);
    try {
      const next = document.createElement('div');
      next.innerHTML = await fragment('/console/timeline?' + q);
      const fresh = $('.timeline', next);
      if (!fresh) return;
      const rows = $$('tbody tr', fresh);
      if (rows.length) {
        $('tbody', out).append(...rows);
        const empty = $('.empty', out);
        if (empty) empty.remove();
      }
      out.dataset.head = fresh.dataset.head;
      $('.scan', out).replaceWith($('.scan', fresh));
    } catch (_) { /* signed out */ }
  }

  function refreshing() {
    $$('form[data-refresh]').forEach((form) => {
      setInterval(() => {
        if (session && !form.closest('[data-view]').hidden) submit(form);
      }, Number(form.dataset.refresh));
    });
  }

  function inspect(spec, extra) {
    const [type, id] = spec.split('/');
    const form = $('[data-view="inspector"] form');
    form.elements.type.value = type;
    form.elements.id.value = id;
    form.elements.at.value = (extra && extra.at) || '';
    form.elements.diff_from.value = (extra && extra.diff_from) || '';
    location.hash = '#inspector';
    submit(form);
  }

  document.addEventListener('DOMContentLoaded', () => {
    $('#signin-form').addEventListener('submit', async (ev) => {
      ev.preventDefault();
      const f = ev.target;
      $('#signin-error').textContent = '';
      const res = await auth('login', { email: f.elements.email.value, password: f.elements.password.value });
      const body = await res.json().catch(() => ({}));
      if (!res.ok) {
        $('#signin-error').textContent = (body.error && body.error.message) || 'Sign-in failed.';
        return;
      }
      f.reset();
      save({ access_token: body.access_token, refresh_token: body.refresh_token });
      render();
    });
    $('#sign-out').addEventListener('click', async () => {
      if (session && session.refresh_token) await auth('logout', { refresh_token: session.refresh_token }).catch(() => {});
      save(null);
      $$('.out').forEach((o) => { o.innerHTML = ''; });
      render();
    });
    $$('form[data-fragment]').forEach((form) => {
      form.addEventListener('submit', (ev) => { ev.preventDefault(); submit(form); });
    });
    document.addEventListener('click', (ev) => {
      const el = ev.target.closest('[data-inspect], [data-at], [data-diff-from], [data-after]');
      if (!el) return;
      ev.preventDefault();
      if (el.dataset.inspect) inspect(el.dataset.inspect);
      else if (el.dataset.at || el.dataset.diffFrom) {
        const form = $('[data-view="inspector"] form');
        if (el.dataset.at) form.elements.at.value = el.dataset.at;
        if (el.dataset.diffFrom) form.elements.diff_from.value = el.dataset.diffFrom;
        submit(form);
      } else if (el.dataset.after !== undefined) {
        const form = $('[data-view="timeline"] form');
        form.elements.after.value = el.dataset.after;
        submit(form);
      }
    });
    window.addEventListener('hashchange', () => { if (session) view(location.hash.slice(1)); });
    setInterval(follow, 2000);
    refreshing();
    render();
  });
})();
