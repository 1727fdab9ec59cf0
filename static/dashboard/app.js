// Atelier dashboard: small progressive enhancements, no framework, no CDN.
(function () {
  "use strict";

  function csrfToken(form) {
    var input = form.querySelector("input[name=csrfmiddlewaretoken]");
    return input ? input.value : "";
  }

  function onReady() {
    document.querySelectorAll("select[data-autosubmit]").forEach(function (select) {
      select.addEventListener("change", function () { select.form.submit(); });
    });
    document.querySelectorAll("form[data-confirm]").forEach(function (form) {
      form.addEventListener("submit", function (event) {
        if (!window.confirm(form.getAttribute("data-confirm"))) event.preventDefault();
      });
    });
    document.querySelectorAll("[data-copy]").forEach(function (button) {
      button.addEventListener("click", function () {
        var text = document.querySelector(button.getAttribute("data-copy")).textContent.trim();
        var done = function () { button.textContent = "Copied"; };
        if (navigator.clipboard && window.isSecureContext) {
          navigator.clipboard.writeText(text).then(done);
        } else {
          var area = document.createElement("textarea");
          area.value = text; document.body.appendChild(area); area.select();
          document.execCommand("copy"); area.remove(); done();
        }
      });
    });
    var custom = document.getElementById("custom-amount");
    if (custom) setUpBonusPreview(custom);
    var playground = document.getElementById("playground");
    if (playground) setUpPlayground(playground);
    var detail = document.getElementById("job-detail");
    if (detail && detail.getAttribute("data-done") === "0") {
      window.setTimeout(function () { window.location.reload(); }, 1500);
    }
  }

  // The bonus a custom amount earns, asked from the server (the checkout's own rules).
  function setUpBonusPreview(form) {
    var input = form.querySelector("#amount"), out = document.getElementById("bonus-preview");
    var url = form.getAttribute("data-bonus-url"), timer = null, initial = out.textContent;
    input.addEventListener("input", function () {
      window.clearTimeout(timer);
      timer = window.setTimeout(function () {
        var value = input.value.trim().replace(/^\$/, "");
        if (!value) { out.textContent = initial; return; }
        fetch(url + "?amount=" + encodeURIComponent(value), {credentials: "same-origin"})
          .then(function (r) { return r.json(); })
          .then(function (data) { out.textContent = data.message; out.classList.toggle("error", !data.valid); });
      }, 250);
    });
  }

  function setUpPlayground(form) {
    var model = form.querySelector("#model"), tier = form.querySelector("#image_size");
    var grounding = form.querySelector("#grounding"), error = document.getElementById("form-error");

    var parent = form.querySelector("#parent"), editing = document.getElementById("editing");

    // "Edit this image": the next submit continues `job`'s conversation, on the same model.
    function editJob(job) {
      parent.value = job ? job.id : "";
      editing.hidden = !job;
      if (job) {
        document.getElementById("editing-image").src = job.images.length ? job.images[0].thumbnail : "";
        model.value = job.model;
      }
      Array.prototype.forEach.call(model.options, function (o) { o.disabled = !!job && o.value !== job.model; });
      syncOptions(); quote();
      if (job) { var prompt = form.querySelector("#prompt"); prompt.value = ""; prompt.focus(); }
    }
    window.atelierEditJob = editJob;
    document.getElementById("stop-editing").addEventListener("click", function () { editJob(null); });
    if (parent.value) {
      model.value = model.getAttribute("data-parent-model");
      Array.prototype.forEach.call(model.options, function (o) { o.disabled = o.value !== model.value; });
    }

    function syncOptions() {
      var option = model.options[model.selectedIndex];
      var tiers = option.getAttribute("data-tiers").split(",");
      Array.prototype.forEach.call(tier.options, function (o) { o.disabled = tiers.indexOf(o.value) < 0; });
      if (tier.selectedOptions[0].disabled) tier.value = tiers[0];
      grounding.disabled = option.getAttribute("data-grounding") !== "1";
      if (grounding.disabled) grounding.checked = false;
    }

    function quote() {
      var params = new URLSearchParams({model: model.value, image_size: tier.value,
        aspect_ratio: form.querySelector("#aspect_ratio").value, grounding: grounding.checked ? "1" : "0",
        references: String(form.querySelector("#reference_images").files.length)});
      fetch(form.getAttribute("data-quote-url") + "?" + params, {credentials: "same-origin"})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          if (data.error) { document.getElementById("price").textContent = "—"; return; }
          document.getElementById("price").textContent = data.price.usd;
          document.getElementById("dimensions").textContent = data.width + "×" + data.height + " px";
          document.getElementById("available").textContent = data.available;
        });
    }

    form.addEventListener("change", function () { syncOptions(); quote(); });
    syncOptions(); quote();

    form.addEventListener("submit", function (event) {
      event.preventDefault();
      error.hidden = true;
      var button = form.querySelector("#generate");
      button.disabled = true;
      fetch(form.action, {method: "POST", body: new FormData(form), credentials: "same-origin",
                          headers: {"X-CSRFToken": csrfToken(form)}})
        .then(function (r) { return r.json(); })
        .then(function (data) {
          button.disabled = false;
          if (data.error) { error.textContent = data.error.message; error.hidden = false; return; }
          showJob(data);
          poll(data.status_url);
          if (parent.value) editJob(null); else quote();  // the result offers "Edit" again
        })
        .catch(function () { button.disabled = false; error.textContent = "Network error, try again."; error.hidden = false; });
    });
  }

  function showJob(job) {
    document.getElementById("result-empty").hidden = true;
    document.getElementById("result-job").hidden = false;
    document.getElementById("job-status").textContent = job.status;
    document.getElementById("job-status").className = "status-" + job.status;
    document.getElementById("job-price").textContent = job.price + (job.local_render ? " · local render" : "");
    var images = document.getElementById("job-images");
    images.innerHTML = "";
    if (job.error) {
      var p = document.createElement("p"); p.className = "error"; p.textContent = job.error; images.appendChild(p);
    }
    if (job.moderation) {
      var note = document.createElement("p");
      note.setAttribute("data-testid", "blocked-note");
      note.textContent = "Blocked by the safety filter (" + job.moderation.category + "). ";
      var link = document.createElement("a"); link.href = job.detail_url;
      link.textContent = "Request a review on the generation's page";
      note.appendChild(link); images.appendChild(note);
    }
    job.images.forEach(function (image) {
      var img = document.createElement("img");
      img.src = image.thumbnail; img.className = "preview"; img.alt = "Generated image";
      img.setAttribute("data-testid", "result-image");
      images.appendChild(img);
      document.getElementById("job-download").href = image.download;
      document.getElementById("job-download").setAttribute("download", "");
    });
    document.getElementById("job-detail").href = job.detail_url;
    document.getElementById("job-links").hidden = !job.images.length;
    var actions = document.getElementById("edit-actions");
    actions.hidden = job.status !== "succeeded" || !job.images.length;
    document.getElementById("edit-image").onclick = function () {
      if (window.atelierEditJob) window.atelierEditJob(job);
    };
  }

  function poll(url) {
    fetch(url, {credentials: "same-origin"}).then(function (r) { return r.json(); }).then(function (job) {
      showJob(job);
      if (!job.done) window.setTimeout(function () { poll(url); }, 1000);
    });
  }

  if (document.readyState === "loading") document.addEventListener("DOMContentLoaded", onReady);
  else onReady();
})();
