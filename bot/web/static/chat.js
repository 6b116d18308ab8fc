/* Front Door web chat client. No dependencies, no inline script (the CSP forbids it).
 *
 * Safety first: Esc, or Shift pressed three times, or the "Leave this site" button replaces
 * this page with a neutral site (location.replace, so Back does not return here) after
 * wiping the page and anything kept in this tab. Nothing is stored in the browser unless the
 * person ticks "Keep this chat" (then sessionStorage, this tab only).
 */
(function () {
  "use strict";

  var config = JSON.parse(document.getElementById("chat-config").textContent);
  var S = config.strings;
  var KEY = "frontdoor.chat";
  var SHIFT_WINDOW_MS = 5000;

  var state = {
    token: null, // session token (memory; sessionStorage only if "keep" is ticked)
    code: null, // resume code when the chat was reopened with one
    keep: false,
    socket: null,
    ready: false, // the server has welcomed this socket
    started: false, // /start was sent once for this page
    pending: [], // sent but not yet confirmed by the server: resent after a reconnect
    counter: 0,
    backoff: 500,
    leaving: false,
    language: config.language,
  };

  var el = {
    log: document.getElementById("log"),
    status: document.getElementById("status"),
    composer: document.getElementById("composer"),
    message: document.getElementById("message"),
    keep: document.getElementById("keep"),
    leave: document.getElementById("leave"),
    languageButton: document.getElementById("language-button"),
    saveButton: document.getElementById("save-button"),
    resumeButton: document.getElementById("resume-button"),
    resumeForm: document.getElementById("resume-form"),
    resumeCode: document.getElementById("resume-code"),
    resumeError: document.getElementById("resume-error"),
    codePanel: document.getElementById("code-panel"),
    codeValue: document.getElementById("code-value"),
    codeClose: document.getElementById("code-close"),
  };

  // --- quick exit ---------------------------------------------------------------------

  function leave(event) {
    if (event) {
      event.preventDefault();
      event.stopPropagation();
    }
    if (state.leaving) return;
    state.leaving = true;
    forgetStored();
    state.token = null;
    state.code = null;
    try {
      if (state.socket) state.socket.close();
    } catch (ignored) { /* leaving anyway */ }
    document.title = "";
    document.body.textContent = "";
    window.location.replace(config.exit);
  }

  var shiftPresses = 0;
  var shiftClean = false;
  var shiftTimer = null;

  document.addEventListener("keydown", function (event) {
    if (event.key === "Escape" || event.key === "Esc") {
      leave(event);
      return;
    }
    if (event.key === "Shift") {
      if (!event.repeat) shiftClean = true;
      return;
    }
    shiftClean = false; // Shift used for a capital letter or a shortcut: not a press
    shiftPresses = 0;
  }, true);

  document.addEventListener("keyup", function (event) {
    if (event.key !== "Shift" || !shiftClean) return;
    shiftClean = false;
    shiftPresses += 1;
    window.clearTimeout(shiftTimer);
    shiftTimer = window.setTimeout(function () { shiftPresses = 0; }, SHIFT_WINDOW_MS);
    if (shiftPresses >= 3) leave();
  }, true);

  el.leave.addEventListener("click", leave);

  // --- keeping (or not) the session in this tab -----------------------------------------

  function forgetStored() {
    try {
      window.sessionStorage.removeItem(KEY);
    } catch (ignored) { /* storage may be blocked: then nothing was stored */ }
  }

  function store() {
    if (!state.keep) {
      forgetStored();
      return;
    }
    try {
      window.sessionStorage.setItem(KEY, JSON.stringify({ token: state.token, code: state.code }));
    } catch (ignored) { /* private mode: the chat still works, in memory */ }
  }

  function restore() {
    try {
      var saved = JSON.parse(window.sessionStorage.getItem(KEY) || "null");
      if (saved && (saved.token || saved.code)) {
        state.token = saved.token || null;
        state.code = saved.code || null;
        state.keep = true;
        el.keep.checked = true;
      }
    } catch (ignored) { /* nothing kept */ }
  }

  el.keep.addEventListener("change", function () {
    state.keep = el.keep.checked;
    store();
  });

  // --- page words (the chat may change language) -----------------------------------------

  function applyStrings(language, rtl, strings) {
    S = strings;
    state.language = language;
    document.documentElement.lang = language;
    document.documentElement.dir = rtl ? "rtl" : "ltr";
    document.title = S.title;
    var nodes = document.querySelectorAll("[data-s]");
    for (var i = 0; i < nodes.length; i++) {
      var key = nodes[i].getAttribute("data-s");
      if (S[key] !== undefined) nodes[i].textContent = S[key];
    }
    var labelled = document.querySelectorAll("[data-s-label]");
    for (var j = 0; j < labelled.length; j++) {
      var labelKey = labelled[j].getAttribute("data-s-label");
      if (S[labelKey] !== undefined) labelled[j].setAttribute("aria-label", S[labelKey]);
    }
  }

  function setStatus(text, problem) {
    el.status.textContent = text || "";
    el.status.classList.toggle("problem", !!problem);
  }

  // --- the conversation -------------------------------------------------------------------

  function make(tag, className, text) {
    var node = document.createElement(tag);
    if (className) node.className = className;
    if (text !== undefined) node.textContent = text;
    return node;
  }

  function disableChoices(chosenButton) {
    var buttons = el.log.querySelectorAll(".choice:enabled");
    for (var i = 0; i < buttons.length; i++) {
      buttons[i].disabled = true;
    }
    if (chosenButton) chosenButton.classList.add("chosen");
  }

  function reveal(node) {
    if (node && node.scrollIntoView) node.scrollIntoView({ block: "nearest" });
  }

  // Show a new reply from its first line: all of it with the message box if it fits,
  // otherwise its start (the person reads down to the buttons).
  function showReply(item) {
    if (item === el.log.firstElementChild) return; // the opening: keep the top in view
    var header = document.querySelector(".top").offsetHeight;
    var room = window.innerHeight - header;
    if (item.offsetHeight + el.composer.offsetHeight + 24 <= room) reveal(el.composer);
    else item.scrollIntoView({ block: "start" });
  }

  function addYou(text) {
    var item = make("div", "msg msg-you");
    item.lang = state.language;
    item.dir = "auto";
    item.appendChild(make("span", "visually-hidden", S.you_said + " "));
    item.appendChild(make("p", "msg-text", text));
    el.log.appendChild(item);
    reveal(el.composer);
  }

  function callLink(number, label, extraClass) {
    var link = make("a", "call" + (extraClass ? " " + extraClass : ""),
      label.replace("{number}", number));
    link.href = "tel:" + number.replace(/[^0-9+]/g, "");
    return link;
  }

  function addReply(reply) {
    var flags = reply.flags || [];
    var emergency = flags.indexOf("emergency") >= 0;
    var urgent = emergency || flags.indexOf("urgent") >= 0;
    var fromHub = flags.indexOf("hub_reply") >= 0;
    var item = make("div", "msg msg-bot" + (urgent ? " msg-alert" : "") + (fromHub ? " msg-hub" : ""));
    item.lang = reply.language || state.language;
    item.dir = reply.rtl ? "rtl" : "ltr";
    if (urgent) {
      item.setAttribute("role", "alert");
      item.appendChild(make("span", "label", S.warning));
    } else {
      item.appendChild(make("span", "visually-hidden", (fromHub ? S.hub_said : S.bot_said) + " "));
    }
    item.appendChild(make("p", "msg-text", reply.text));
    if (urgent) {
      var calls = make("div", "calls");
      if (emergency) calls.appendChild(callLink(config.emergency, S.call));
      calls.appendChild(callLink(config.hubPhone, S.call_hub, "call-hub"));
      item.appendChild(calls);
    }
    var first = null;
    if (reply.choices && reply.choices.length) {
      var group = make("div", "choices");
      group.setAttribute("role", "group");
      group.setAttribute("aria-label", S.choices);
      reply.choices.forEach(function (choice) {
        var button = make("button", "choice", choice.label);
        button.type = "button";
        button.setAttribute("data-choice", choice.id);
        var named = choice.id.indexOf("lang:") === 0 ? choice.id.slice(5) : "";
        if (config.languages.indexOf(named) >= 0) {
          button.lang = named; // a language's own name, in that language
          button.dir = "auto";
        }
        button.addEventListener("click", function () {
          if (button.disabled) return;
          disableChoices(button);
          // The question these buttons answer goes back with the press (flows/questions.py).
          send({ type: "choice", choice: choice.id, question: reply.question || "" },
            choice.label);
        });
        group.appendChild(button);
        if (!first) first = button;
      });
      item.appendChild(group);
    }
    var focusWasLost = !document.activeElement || document.activeElement === document.body ||
      document.activeElement.disabled;
    el.log.appendChild(item);
    showReply(item);
    if (focusWasLost) {
      if (first) first.focus({ preventScroll: true });
      else el.message.focus({ preventScroll: true });
    }
  }

  // --- sending ---------------------------------------------------------------------------

  function nextId() {
    state.counter += 1;
    return "m" + Date.now().toString(36) + "-" + state.counter;
  }

  function transmit(payload) {
    if (state.socket && state.ready && state.socket.readyState === WebSocket.OPEN) {
      state.socket.send(JSON.stringify(payload));
    }
  }

  function send(payload, echo) {
    payload.id = nextId();
    state.pending.push(payload);
    if (echo !== undefined) addYou(echo);
    transmit(payload);
  }

  function command(name) {
    send({ type: "command", command: name, text: "" });
  }

  function bytes(text) {
    return new TextEncoder().encode(text).length;
  }

  el.composer.addEventListener("submit", function (event) {
    event.preventDefault();
    var text = el.message.value;
    if (!text.trim()) return;
    if (bytes(text) > config.maxBytes) {
      setStatus(S.too_long, true);
      return;
    }
    setStatus("");
    disableChoices(null);
    send({ type: "text", text: text }, text);
    el.message.value = "";
  });

  el.message.addEventListener("keydown", function (event) {
    if (event.key === "Enter" && !event.shiftKey && !event.isComposing) {
      event.preventDefault();
      if (el.composer.requestSubmit) el.composer.requestSubmit();
      else el.composer.dispatchEvent(new Event("submit", { cancelable: true }));
    }
  });

  el.languageButton.addEventListener("click", function () {
    command("language");
  });

  // --- resume codes ----------------------------------------------------------------------

  el.saveButton.addEventListener("click", function () {
    transmit({ type: "code" });
  });

  el.codeClose.addEventListener("click", function () {
    el.codePanel.hidden = true;
    el.saveButton.focus();
  });

  el.resumeButton.addEventListener("click", function () {
    var open = el.resumeForm.hidden;
    el.resumeForm.hidden = !open;
    el.resumeButton.setAttribute("aria-expanded", open ? "true" : "false");
    if (open) el.resumeCode.focus();
  });

  el.resumeForm.addEventListener("submit", function (event) {
    event.preventDefault();
    var code = el.resumeCode.value.trim();
    if (!code) return;
    transmit({ type: "resume", code: code });
  });

  function codeProblem(text) {
    el.resumeError.textContent = text;
    el.resumeError.hidden = false;
    el.resumeCode.setAttribute("aria-invalid", "true");
    el.resumeCode.focus();
  }

  // --- from the server -------------------------------------------------------------------

  function confirm(id) {
    state.pending = state.pending.filter(function (p) { return p.id !== id; });
  }

  var handlers = {
    welcome: function (msg) {
      state.ready = true;
      state.backoff = 500;
      if (msg.session) {
        state.token = msg.session;
        state.code = null;
      }
      store();
      setStatus("");
      state.pending.forEach(transmit);
      if (!state.started) {
        state.started = true;
        command("start"); // a new chat begins, a kept or resumed one says "welcome back"
      }
    },
    strings: function (msg) {
      applyStrings(msg.language, msg.rtl, msg.strings);
    },
    reply: function (msg) {
      addReply(msg.reply);
      transmit({ type: "ack", seq: msg.seq });
    },
    received: function (msg) {
      confirm(msg.id);
    },
    code: function (msg) {
      el.codeValue.textContent = msg.code;
      el.codePanel.hidden = false;
      el.codePanel.focus();
    },
    resumed: function (msg) {
      state.code = msg.code;
      state.token = null;
      store();
      el.resumeForm.hidden = true;
      el.resumeButton.setAttribute("aria-expanded", "false");
      el.resumeError.hidden = true;
      el.resumeCode.removeAttribute("aria-invalid");
      el.resumeCode.value = "";
      el.log.textContent = "";
      state.pending = [];
      command("start");
    },
    forget: function () {
      state.token = null;
      state.code = null;
      forgetStored();
      state.ready = false;
      if (state.socket) state.socket.close(); // reconnects as a new, empty chat
    },
    error: function (msg) {
      var text = msg.message || "";
      if (msg.code === "code_bad" || msg.code === "code_busy") {
        // In the form: say so there. At reconnection (a kept code that expired) the
        // welcome that follows starts a new chat; say so in the status line.
        if (!el.resumeForm.hidden) codeProblem(text || S[msg.code]);
        else setStatus(text || S[msg.code], true);
        return;
      }
      if (msg.code === "slow_down") {
        // Not lost: the message stays pending and goes again in a moment.
        setStatus(text || S.slow_down, true);
        var again = state.pending.filter(function (p) { return p.id === msg.id; })[0];
        if (again) {
          window.setTimeout(function () {
            setStatus("");
            transmit(again);
          }, 1200);
        }
        return;
      }
      if (msg.id) confirm(msg.id);
      if (msg.code === "too_long") setStatus(text || S.too_long, true);
    },
  };

  function connect() {
    if (state.leaving) return;
    state.ready = false;
    setStatus(state.started ? S.reconnecting : S.connecting, state.started);
    var scheme = window.location.protocol === "https:" ? "wss://" : "ws://";
    var socket = new WebSocket(scheme + window.location.host + config.ws);
    state.socket = socket;
    socket.addEventListener("open", function () {
      var languages = config.explicit ? [config.language] : [];
      languages = languages.concat(Array.prototype.slice.call(navigator.languages || []));
      languages.push(config.language);
      socket.send(JSON.stringify({
        type: "hello", session: state.token, code: state.code, languages: languages,
        page: state.language,
      }));
    });
    socket.addEventListener("message", function (event) {
      var msg;
      try {
        msg = JSON.parse(event.data);
      } catch (ignored) {
        return;
      }
      var handler = handlers[msg && msg.type];
      if (handler) handler(msg);
    });
    socket.addEventListener("close", function () {
      if (state.socket !== socket || state.leaving) return;
      state.socket = null;
      state.ready = false;
      window.setTimeout(connect, state.backoff);
      state.backoff = Math.min(state.backoff * 2, 10000);
    });
  }

  restore();
  connect();
})();
