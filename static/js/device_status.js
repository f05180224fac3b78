// The device page's Status card follows the broker's reports without a reload: it
// polls the device's status URL and rewrites the fields and badges that changed.
(() => {
  const card = document.querySelector("[data-device-status-url]");
  if (!card) return;
  const url = card.dataset.deviceStatusUrl;
  const POLL_MS = 5000;
  const BADGE_CLASSES = ["text-bg-success", "text-bg-secondary", "text-bg-light", "border"];

  const show = (status) => {
    document.querySelectorAll("[data-device-link]").forEach((element) => {
      const value = status[element.dataset.deviceLink];
      if (value === undefined || element.textContent === value) return;
      element.textContent = value;
      if (element.dataset.deviceLink === "status") {
        element.classList.remove(...BADGE_CLASSES);
        element.classList.add(...status.badge_class.split(" "));
      }
    });
  };

  const poll = async () => {
    if (!document.hidden) {
      try {
        const response = await fetch(url, { headers: { Accept: "application/json" }, credentials: "same-origin" });
        if (response.ok) show(await response.json());
      } catch {
        // Offline or the console restarting: try again at the next tick.
      }
    }
    setTimeout(poll, POLL_MS);
  };
  setTimeout(poll, POLL_MS);
})();
