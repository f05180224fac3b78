// Copy buttons: any element with data-copy copies its value, or the value of the
// input named by data-copy-target, and says so briefly.
document.addEventListener("click", async (event) => {
  const button = event.target.closest("[data-copy], [data-copy-target]");
  if (!button) return;
  let text = button.dataset.copy;
  if (button.dataset.copyTarget) {
    const target = document.querySelector(button.dataset.copyTarget);
    text = target ? (target.value ?? target.textContent) : "";
  }
  try {
    await navigator.clipboard.writeText(text);
  } catch {
    return; // clipboard refused (plain http on another host): the text stays selectable
  }
  const icon = button.querySelector("i");
  if (!icon) return;
  const previous = icon.className;
  icon.className = "bi bi-check2";
  setTimeout(() => { icon.className = previous; }, 1200);
});

// Create Product: the CA choice applies to Certificate products only, and the key
// type to products whose certificates the Platform CA issues (the choice the form
// names in data-platform-ca).
document.querySelectorAll("[data-product-form]").forEach((form) => {
  const update = () => {
    const method = form.querySelector("input[name=auth_method]:checked")?.value;
    const ca = form.querySelector("select[name=ca_certificate]")?.value;
    form.querySelectorAll("[data-show-for=certificate]").forEach((el) => { el.hidden = method !== "certificate"; });
    form.querySelectorAll("[data-show-for=platform]").forEach((el) => {
      el.hidden = method !== "certificate" || ca !== form.dataset.platformCa;
    });
  };
  form.addEventListener("change", update);
  update();
});

// Add Device on a Platform CA product: the CSR file matters only when signing a CSR.
document.querySelectorAll("[data-device-form]").forEach((form) => {
  const update = () => {
    const source = form.querySelector("input[name=certificate_source]:checked")?.value;
    form.querySelectorAll("[data-show-for=csr]").forEach((el) => { el.hidden = source !== "csr"; });
  };
  form.addEventListener("change", update);
  update();
});
