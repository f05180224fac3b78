// Batch pages: show the fields of the chosen method, and follow a running batch's progress.
document.querySelectorAll("[data-batch-form]").forEach((form) => {
  const update = () => {
    const method = form.querySelector("input[name=method]:checked")?.value;
    form.querySelectorAll("[data-show-for-method]").forEach((el) => {
      el.hidden = el.dataset.showForMethod !== method;
    });
  };
  form.addEventListener("change", update);
  update();
});

document.querySelectorAll("[data-batch-progress]").forEach((card) => {
  // The width is set here rather than in a style attribute (the pages carry no inline styles).
  const outer = card.querySelector("[data-progress-bar-outer]");
  card.querySelector("[data-progress-bar]").style.width = `${outer.getAttribute("aria-valuenow")}%`;
  if (card.dataset.finished === "true") return;
  const url = card.dataset.batchProgress;
  const set = (selector, text) => {
    const el = document.querySelector(selector);
    if (el) el.textContent = text;
  };
  const poll = async () => {
    let data;
    try {
      const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
      if (!response.ok) throw new Error(String(response.status));
      data = await response.json();
    } catch {
      setTimeout(poll, 3000); // the server may be restarting: keep trying, more slowly
      return;
    }
    const bar = card.querySelector("[data-progress-bar]");
    bar.style.width = `${data.percent}%`;
    bar.textContent = `${data.percent}%`;
    card.querySelector("[data-progress-bar-outer]").setAttribute("aria-valuenow", data.percent);
    set("[data-progress-processed]", data.processed);
    set("[data-progress-succeeded]", data.succeeded);
    set("[data-progress-failed]", data.failed);
    set("[data-progress-eta]", data.finished ? "—" : data.seconds_left === null ? "estimating…" : `about ${data.seconds_left} s`);
    document.querySelector("[data-progress-resume]").hidden = !data.can_resume;
    document.querySelector("[data-progress-stalled]").classList.toggle("d-none", !data.stalled);
    if (data.finished) {
      window.location.reload(); // shows the final status, failed rows and the download
      return;
    }
    setTimeout(poll, 1000);
  };
  poll();
});
