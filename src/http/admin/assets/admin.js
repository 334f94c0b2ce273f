// Round Table AI admin: confirm dialogs and the live session view. No framework, no inline code
// (the Content-Security-Policy allows scripts from /admin/assets only). Model text received live
// is only ever assigned with textContent; whole fragments come from the server already escaped.
(() => {
  // Dangerous buttons (delete, force stop) ask first.
  document.addEventListener("submit", (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement)) return;
    const question = form.getAttribute("data-confirm");
    if (question && !window.confirm(question)) event.preventDefault();
  });

  // "Test connection" runs in the background: the button shows progress, the result appears in
  // place, the page stays usable. Without scripts the form posts and the page comes back with it.
  document.addEventListener("submit", async (event) => {
    const form = event.target;
    if (!(form instanceof HTMLFormElement) || form.getAttribute("data-script") !== "test-connection") return;
    const button = form.querySelector("button");
    const result = document.getElementById("test-result");
    if (!button || !result || event.defaultPrevented) return;
    event.preventDefault();
    if (button.disabled) return;
    const label = button.textContent;
    button.disabled = true;
    button.classList.add("testing");
    button.textContent = "Testing…";
    result.className = "notice notice-info";
    result.textContent = "Testing the connection…";
    try {
      const response = await fetch(form.action, {
        method: "POST",
        body: new URLSearchParams(new FormData(form)),
        headers: { accept: "application/json" },
        credentials: "same-origin",
      });
      const notice = response.ok ? await response.json() : null;
      result.className = `notice notice-${notice ? notice.kind : "error"}`;
      result.textContent = notice
        ? notice.text
        : `The test could not run (HTTP ${response.status}). Reload the page.`;
    } catch {
      result.className = "notice notice-error";
      result.textContent = "The test could not run: the admin did not answer.";
    } finally {
      button.disabled = false;
      button.classList.remove("testing");
      button.textContent = label;
    }
  });

  const live = document.getElementById("live");
  const sessionId = live?.getAttribute("data-live-session");
  if (!live || !sessionId) return;

  const liveUrl = live.getAttribute("data-live-url");
  const eventsUrl = live.getAttribute("data-events-url");
  const draft = document.getElementById("draft");
  const draftSpeaker = document.getElementById("draft-speaker");
  const draftText = document.getElementById("draft-text");

  let source = null;
  let pollTimer = null;
  let finished = false;
  let refreshing = false;
  let again = false;

  const hideDraft = () => {
    if (draft) draft.hidden = true;
    if (draftText) draftText.textContent = "";
  };

  const stop = () => {
    finished = true;
    if (source) source.close();
    source = null;
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = null;
    hideDraft();
  };

  const refresh = async () => {
    if (finished) return;
    if (refreshing) {
      again = true;
      return;
    }
    refreshing = true;
    try {
      const response = await fetch(liveUrl, { credentials: "same-origin", cache: "no-store" });
      // Signed out (or the cookie was dropped and the request sent on to the login form).
      if (response.status === 401 || response.redirected) {
        stop();
        return;
      }
      if (!response.ok) return;
      const html = await response.text();
      live.innerHTML = html;
      const body = live.querySelector("[data-status]");
      const status = body ? body.getAttribute("data-status") : "";
      // The operator's question box belongs to a running debate only.
      const interject = document.getElementById("interject");
      if (interject) interject.hidden = status !== "running";
      // An ended debate still waiting for its verdict stays live until the verdict is shown.
      const waiting = body ? body.hasAttribute("data-verdict-pending") : false;
      if (status !== "running" && status !== "created" && !waiting) stop();
    } catch {
      // Network hiccup: the next event or poll tries again.
    } finally {
      refreshing = false;
      if (again) {
        again = false;
        if (!finished) void refresh();
      }
    }
  };

  const poll = (ms) => {
    if (pollTimer) clearInterval(pollTimer);
    pollTimer = setInterval(() => void refresh(), ms);
  };

  if ("EventSource" in window && eventsUrl) {
    source = new EventSource(eventsUrl);
    // Anything that happened between rendering the page and connecting is fetched once.
    source.addEventListener("open", () => {
      poll(10000);
      void refresh();
    });
    source.addEventListener("turn-start", (event) => {
      const data = JSON.parse(event.data);
      if (draftSpeaker) draftSpeaker.textContent = data.name;
      if (draftText) draftText.textContent = "";
      if (draft) draft.hidden = false;
    });
    source.addEventListener("delta", (event) => {
      const data = JSON.parse(event.data);
      if (draftText) draftText.textContent += data.text;
      if (draft) draft.hidden = false;
    });
    source.addEventListener("refresh", () => {
      hideDraft();
      void refresh();
    });
    source.addEventListener("end", () => {
      hideDraft();
      void refresh();
    });
    source.addEventListener("error", () => {
      // The browser reconnects by itself; until it does, poll.
      if (!finished) poll(2000);
    });
    // A slow safety net in case an event is lost on the way (tightened while disconnected).
    poll(10000);
  } else {
    poll(2000);
  }
})();
