// assetd console: confirmations for destructive forms, and the upload page.
//
// The upload page talks to the API's own handlers under /console/api/v1/{project}/…, which
// authenticate with the session cookie and want the page's CSRF token in X-CSRF-Token.
// Per file: check the seed's format and size rules; create the asset; create the file
// (MD5 first) or, above the large-file threshold, a large file in parts; PUT the bytes with
// progress, retrying and resuming after dropped connections; confirm; then follow the
// asset until it is ACTIVED or FAILED.
(function () {
  "use strict";

  document.addEventListener("submit", function (event) {
    var form = event.target;
    var message = form.getAttribute && form.getAttribute("data-confirm");
    if (message && !window.confirm(message)) {
      event.preventDefault();
    }
  });

  var uploader = document.getElementById("uploader");
  if (!uploader) {
    return;
  }

  var rules = JSON.parse(uploader.dataset.rules);
  var largeBytes = Number(uploader.dataset.largeBytes);
  var project = document.body.dataset.project;
  var csrf = document.body.dataset.csrf;
  var apiBase = "/console/api/v1/" + encodeURIComponent(project);
  var list = document.getElementById("uploads");
  var emptyNote = document.getElementById("uploads-empty");
  var input = document.getElementById("upload-input");
  var dropzone = document.getElementById("dropzone");
  var PART_BYTES = 16 * 1024 * 1024;
  var HASH_CHUNK = 4 * 1024 * 1024;
  var MAX_ATTEMPTS = 6;
  var POLL_MS = 1500;
  var PARALLEL = 2;

  function ApiError(message, code, status) {
    this.message = message;
    this.code = code;
    this.status = status;
  }
  function NetworkError() {
    this.message = "the connection was lost";
  }
  function Cancelled() {
    this.message = "cancelled";
  }

  // Binary units, as the seed's limits and the server's pages use them.
  function humanSize(bytes) {
    var units = ["B", "KB", "MB", "GB", "TB"];
    var value = bytes;
    var unit = 0;
    while (value >= 1024 && unit < units.length - 1) {
      value /= 1024;
      unit += 1;
    }
    return value.toFixed(1).replace(/\.0$/, "") + " " + units[unit];
  }

  function sleep(ms) {
    return new Promise(function (resolve) { setTimeout(resolve, ms); });
  }

  function el(tag, className, text) {
    var node = document.createElement(tag);
    if (className) { node.className = className; }
    if (text !== undefined) { node.textContent = text; }
    return node;
  }

  function badge(state) {
    return el("span", "badge badge-" + state.toLowerCase(), state);
  }

  // Signed upload URLs name the public URL; the console's own origin serves the same path,
  // and a PUT to another origin would need CORS.
  function sameOrigin(url) {
    var u = new URL(url, window.location.href);
    return u.origin === window.location.origin ? u.href : window.location.origin + u.pathname + u.search;
  }

  async function api(method, path, body) {
    var response;
    try {
      response = await fetch(apiBase + path, {
        method: method,
        credentials: "same-origin",
        headers: { "Content-Type": "application/json", "X-CSRF-Token": csrf },
        body: body === undefined ? undefined : JSON.stringify(body),
      });
    } catch (e) {
      throw new NetworkError();
    }
    var data = null;
    try { data = await response.json(); } catch (e) { data = null; }
    if (!response.ok) {
      var message = (data && data.error_msg) || "HTTP " + response.status;
      throw new ApiError(message, data && data.error_code, response.status);
    }
    return data;
  }

  async function md5Base64(file, onProgress) {
    var spark = new window.SparkMD5.ArrayBuffer();
    for (var at = 0; at < file.size; at += HASH_CHUNK) {
      spark.append(await file.slice(at, at + HASH_CHUNK).arrayBuffer());
      onProgress(Math.min(file.size, at + HASH_CHUNK));
    }
    return btoa(spark.end(true));
  }

  function resumeKey(file) {
    return ["assetd-upload", project, file.name, file.size, file.lastModified].join(":");
  }

  function Upload(file) {
    this.file = file;
    var dot = file.name.lastIndexOf(".");
    this.ext = dot > 0 ? file.name.slice(dot + 1).toLowerCase() : "";
    this.rule = rules[this.ext];
    this.cancelled = false;
    this.xhr = null;
    this.assetId = null;
    this.fileId = null;
    this.render();
  }

  Upload.prototype.render = function () {
    var row = el("li", "upload");
    var head = el("div", "upload-head");
    this.name = el("span", "upload-name", this.file.name);
    this.typeChip = el("span", "chip", this.rule ? this.typeFor() : (this.ext || "?").toUpperCase());
    head.append(this.name, this.typeChip, el("span", "muted", humanSize(this.file.size)));
    this.bar = el("progress");
    this.bar.max = Math.max(1, this.file.size);
    this.bar.value = 0;
    this.bar.setAttribute("aria-label", "Upload of " + this.file.name);
    var status = el("div", "upload-status");
    this.text = el("span", "upload-text", "Waiting…");
    this.stateSlot = el("span", "upload-state");
    this.actions = el("span", "upload-actions");
    this.cancelButton = el("button", "button small", "Cancel");
    this.cancelButton.type = "button";
    this.cancelButton.setAttribute("aria-label", "Cancel " + this.file.name);
    this.cancelButton.addEventListener("click", this.cancel.bind(this));
    this.actions.append(this.cancelButton);
    status.append(this.text, this.stateSlot, this.actions);
    row.append(head, this.bar, status);
    this.row = row;
    list.prepend(row);
    if (emptyNote) { emptyNote.hidden = true; }
  };

  Upload.prototype.typeFor = function () {
    if (this.rule.type === "AUDIO") {
      return document.getElementById("sound-type").value;
    }
    return this.rule.type;
  };

  Upload.prototype.say = function (text) {
    this.text.textContent = text;
  };

  Upload.prototype.showState = function (state) {
    this.stateSlot.replaceChildren(badge(state));
  };

  Upload.prototype.progress = function (sent) {
    this.bar.value = sent;
    var percent = this.file.size ? Math.floor((sent / this.file.size) * 100) : 100;
    this.say("Uploading · " + humanSize(sent) + " of " + humanSize(this.file.size) + " · " + percent + "%");
  };

  Upload.prototype.check = function () {
    if (!this.rule) {
      var known = Object.keys(rules).join(", ").toUpperCase();
      throw new ApiError("." + (this.ext || "(no extension)") + " files cannot be uploaded here; use one of " + known);
    }
    if (this.file.size > this.rule.max) {
      throw new ApiError(this.file.name + " is " + humanSize(this.file.size) + "; " + this.rule.type +
        " files may be at most " + humanSize(this.rule.max));
    }
    if (this.file.size === 0) {
      throw new ApiError(this.file.name + " is empty");
    }
  };

  Upload.prototype.run = async function () {
    if (this.cancelled) {
      return;
    }
    try {
      this.check();
      var saved = null;
      try { saved = JSON.parse(window.localStorage.getItem(resumeKey(this.file)) || "null"); } catch (e) { saved = null; }
      if (saved) {
        this.assetId = saved.asset_id;
        this.linkAsset();
        this.say("Resuming an earlier upload…");
        try {
          await this.sendParts(saved.file_id, saved.upload_urls);
        } catch (e) {
          if (!(e instanceof ApiError) || this.cancelled) { throw e; }
          // The earlier upload is gone (cancelled, expired, or already confirmed).
          window.localStorage.removeItem(resumeKey(this.file));
          saved = null;
          this.assetId = null;
        }
      }
      if (!saved) {
        await this.createAsset();
        if (this.file.size > largeBytes) {
          await this.sendLarge();
        } else {
          await this.sendSingle();
        }
      }
      this.say("Confirming…");
      await api("POST", "/files/" + encodeURIComponent(this.fileId) + "/complete", { state: "CREATED" });
      window.localStorage.removeItem(resumeKey(this.file));
      this.cancelButton.remove();
      this.bar.value = this.bar.max;
      await this.follow();
    } catch (e) {
      if (!this.cancelled) {
        this.fail(e);
      }
    }
  };

  Upload.prototype.createAsset = async function () {
    this.say("Creating the asset…");
    var dot = this.file.name.lastIndexOf(".");
    var type = this.typeFor();
    var body = { asset_name: dot > 0 ? this.file.name.slice(0, dot) : this.file.name, asset_type: type };
    if (type === "PPT" && document.getElementById("render-pages").checked) {
      body.asset_extra_meta = { ppt_meta: { auto_analysis: true } };
    }
    var created = await api("POST", "/digital-assets", body);
    this.assetId = created.asset_id;
    this.linkAsset();
    this.showState("CREATING");
  };

  Upload.prototype.linkAsset = function () {
    var link = el("a", "", this.file.name);
    link.href = "/console/assets/" + encodeURIComponent(this.assetId);
    this.name.replaceChildren(link);
  };

  Upload.prototype.sendSingle = async function () {
    var self = this;
    this.say("Reading the file…");
    var md5 = await md5Base64(this.file, function (done) {
      self.say("Reading the file · " + Math.floor((done / self.file.size) * 100) + "%");
    });
    if (this.cancelled) { throw new Cancelled(); }
    var created = await api("POST", "/files", {
      file_name: this.file.name,
      file_md5: md5,
      file_size: this.file.size,
      asset_id: this.assetId,
      asset_file_category: "MAIN",
    });
    this.fileId = created.file_id;
    await this.put(sameOrigin(created.upload_url), this.file, 0, { "Content-MD5": md5 });
  };

  Upload.prototype.sendLarge = async function () {
    var parts = Math.min(100, Math.max(1, Math.ceil(this.file.size / PART_BYTES)));
    var created = await api("POST", "/large-files", {
      file_name: this.file.name,
      file_size: this.file.size,
      asset_id: this.assetId,
      asset_file_category: "MAIN",
      file_multipart_count: parts,
    });
    window.localStorage.setItem(resumeKey(this.file), JSON.stringify({
      asset_id: this.assetId,
      file_id: created.file_id,
      upload_urls: created.upload_urls,
    }));
    await this.sendParts(created.file_id, created.upload_urls);
  };

  // Sends every part not already stored (HEAD answers 200 with its size when it is).
  Upload.prototype.sendParts = async function (fileId, urls) {
    this.fileId = fileId;
    var partSize = Math.ceil(this.file.size / urls.length);
    var sent = 0;
    for (var i = 0; i < urls.length; i++) {
      if (this.cancelled) { throw new Cancelled(); }
      var start = i * partSize;
      var end = Math.min(this.file.size, start + partSize);
      var url = sameOrigin(urls[i]);
      if (await this.stored(url) !== end - start) {
        await this.put(url, this.file.slice(start, end), sent, {});
      }
      sent += end - start;
      this.progress(sent);
    }
  };

  Upload.prototype.stored = async function (url) {
    var response;
    try {
      response = await fetch(url, { method: "HEAD", credentials: "omit" });
    } catch (e) {
      return -1;
    }
    if (response.status === 200) {
      return Number(response.headers.get("Content-Length"));
    }
    if (response.status === 404) {
      return -1;
    }
    throw new ApiError("the upload link was refused (HTTP " + response.status + ")", null, response.status);
  };

  // PUTs `blob`, reporting progress from `offset`; retries with backoff when the
  // connection drops, checking first whether the bytes arrived after all.
  Upload.prototype.put = async function (url, blob, offset, headers) {
    for (var attempt = 1; ; attempt++) {
      if (this.cancelled) {
        throw new Cancelled();
      }
      try {
        return await this.putOnce(url, blob, offset, headers);
      } catch (e) {
        if (this.cancelled || !(e instanceof NetworkError) || attempt >= MAX_ATTEMPTS) {
          throw e;
        }
        var wait = Math.min(8000, 500 * Math.pow(2, attempt));
        this.say("Connection lost · retrying in " + Math.round(wait / 1000) + " s (attempt " + (attempt + 1) + " of " + MAX_ATTEMPTS + ")");
        await sleep(wait);
        if (blob !== this.file && await this.stored(url) === blob.size) {
          return null;
        }
      }
    }
  };

  Upload.prototype.putOnce = function (url, blob, offset, headers) {
    var self = this;
    return new Promise(function (resolve, reject) {
      var xhr = new XMLHttpRequest();
      self.xhr = xhr;
      xhr.open("PUT", url);
      Object.keys(headers).forEach(function (name) { xhr.setRequestHeader(name, headers[name]); });
      xhr.upload.onprogress = function (e) { self.progress(offset + e.loaded); };
      xhr.onload = function () {
        self.xhr = null;
        if (xhr.status >= 200 && xhr.status < 300) {
          self.progress(offset + blob.size);
          resolve(xhr);
          return;
        }
        var data = null;
        try { data = JSON.parse(xhr.responseText); } catch (e) { data = null; }
        reject(new ApiError((data && data.error_msg) || "the upload was refused (HTTP " + xhr.status + ")",
          data && data.error_code, xhr.status));
      };
      xhr.onerror = function () { self.xhr = null; reject(new NetworkError()); };
      xhr.onabort = function () { self.xhr = null; reject(new Cancelled()); };
      xhr.send(blob);
    });
  };

  // Follows the asset until processing and review end.
  Upload.prototype.follow = async function () {
    for (;;) {
      var asset;
      try {
        asset = await api("GET", "/digital-assets/" + encodeURIComponent(this.assetId));
      } catch (e) {
        if (e instanceof NetworkError) { await sleep(POLL_MS * 2); continue; }
        throw e;
      }
      this.showState(asset.asset_state);
      if (asset.asset_state === "CREATING") {
        var main = (asset.files || []).find(function (f) { return f.asset_file_category === "MAIN"; });
        if (main && main.state === "REVIEW") {
          this.say("Uploaded · waiting for a person to review it");
        } else {
          this.say("Uploaded · processing (checking, analysing, reviewing)…");
        }
        await sleep(POLL_MS);
        continue;
      }
      if (asset.asset_state === "FAILED") {
        this.row.classList.add("failed");
        this.say("");
        this.text.replaceChildren(el("span", "reason", asset.reason || "processing failed"));
      } else {
        this.row.classList.add("done");
        this.say("Ready");
        var open = el("a", "button small", "Open");
        open.href = "/console/assets/" + encodeURIComponent(this.assetId);
        open.setAttribute("aria-label", "Open " + this.file.name);
        this.actions.replaceChildren(open);
      }
      return;
    }
  };

  Upload.prototype.fail = function (error) {
    this.row.classList.add("failed");
    this.text.replaceChildren(el("span", "reason", error.message || String(error)));
    if (this.assetId) { this.showState("FAILED"); }
    this.actions.replaceChildren();
    if (error instanceof NetworkError) {
      var retry = el("button", "button small", "Retry");
      retry.type = "button";
      retry.setAttribute("aria-label", "Retry " + this.file.name);
      var self = this;
      retry.addEventListener("click", function () {
        self.row.classList.remove("failed");
        self.actions.replaceChildren(self.cancelButton);
        self.run();
      });
      this.actions.append(retry);
    }
  };

  Upload.prototype.cancel = async function () {
    this.cancelled = true;
    if (this.xhr) { this.xhr.abort(); }
    this.actions.replaceChildren();
    this.say("Cancelling…");
    window.localStorage.removeItem(resumeKey(this.file));
    try {
      if (this.fileId) {
        await api("POST", "/files/" + encodeURIComponent(this.fileId) + "/complete", { state: "CANCELLED" });
      }
    } catch (e) { /* the asset's deletion below takes the file with it */ }
    try {
      if (this.assetId) {
        await api("DELETE", "/digital-assets/" + encodeURIComponent(this.assetId) + "?mode=force");
        this.showState("DELETED");
      }
    } catch (e) { /* nothing more to undo */ }
    this.row.classList.add("failed");
    this.say("Cancelled · nothing was kept");
  };

  // At most PARALLEL uploads run at once; the rest wait their turn.
  var queue = [];
  var running = 0;
  function pump() {
    while (running < PARALLEL && queue.length) {
      var upload = queue.shift();
      running += 1;
      upload.run().finally(function () {
        running -= 1;
        pump();
      });
    }
  }

  function add(files) {
    Array.prototype.forEach.call(files, function (file) {
      queue.push(new Upload(file));
    });
    pump();
  }

  input.addEventListener("change", function () {
    add(input.files);
    input.value = "";
  });
  ["dragenter", "dragover"].forEach(function (name) {
    dropzone.addEventListener(name, function (e) {
      e.preventDefault();
      dropzone.classList.add("dragging");
    });
  });
  ["dragleave", "drop"].forEach(function (name) {
    dropzone.addEventListener(name, function (e) {
      e.preventDefault();
      dropzone.classList.remove("dragging");
    });
  });
  dropzone.addEventListener("drop", function (e) {
    if (e.dataTransfer && e.dataTransfer.files.length) {
      add(e.dataTransfer.files);
    }
  });
})();
