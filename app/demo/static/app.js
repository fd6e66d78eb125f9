// Lists and adds items through the JSON API; URLs come from the page, so a path prefix just works.
(function () {
  const list = document.getElementById("items");
  const form = document.getElementById("new-item");
  const status = document.getElementById("status");

  async function refresh() {
    const res = await fetch(list.dataset.api);
    const body = await res.json();
    list.replaceChildren(...body.items.map((item) => {
      const li = document.createElement("li");
      li.textContent = `${item.name}: ${item.price}`;
      return li;
    }));
  }

  form.addEventListener("submit", async (event) => {
    event.preventDefault();
    const data = new FormData(form);
    const res = await fetch(form.dataset.api, {
      method: "POST",
      headers: { "Content-Type": "application/json" },
      body: JSON.stringify({ name: data.get("name"), price: Number(data.get("price")) }),
    });
    const body = await res.json();
    status.textContent = res.ok ? `added #${body.id}` : `${body.error} (request ${body.request_id})`;
    if (res.ok) { form.reset(); refresh(); }
  });

  refresh();
})();
