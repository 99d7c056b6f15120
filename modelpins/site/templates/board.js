/* modelpins site: the board's search and filters. Reads data attributes, sets `hidden` and textContent only:
   it never builds HTML. Without it the board shows every model. */
(function () {
  "use strict";
  var form = document.getElementById("filters");
  if (!form) { return; }
  var rows = Array.prototype.slice.call(document.querySelectorAll("tbody tr[data-row]"));
  var list = function (tr, name) {
    try { return JSON.parse(tr.getAttribute(name) || "[]"); } catch (e) { return []; }
  };
  var models = rows.map(function (tr) {
    var m = {
      tr: tr,
      name: tr.getAttribute("data-row") || "",
      owners: list(tr, "data-owners"),
      aliases: list(tr, "data-aliases"),
      envs: list(tr, "data-envs"),
      drift: tr.getAttribute("data-drifted") === "1",
      pending: tr.getAttribute("data-pending") === "1"
    };
    m.text = [m.name].concat(m.owners, m.aliases, m.envs).join("\n").toLowerCase();
    return m;
  });
  var field = function (id) { return document.getElementById(id); };
  var shown = field("shown");
  var apply = function () {
    var q = field("q").value.trim().toLowerCase();
    var owner = field("f-owner").value, alias = field("f-alias").value, env = field("f-env").value;
    var drift = field("f-drift").value, pending = field("f-pending").value;
    var count = 0;
    models.forEach(function (m) {
      var ok = (!q || m.text.indexOf(q) !== -1) &&
        (!owner || m.owners.indexOf(owner) !== -1) &&
        (!alias || m.aliases.indexOf(alias) !== -1) &&
        (!env || m.envs.indexOf(env) !== -1) &&
        (!drift || m.drift === (drift === "1")) &&
        (!pending || m.pending === (pending === "1"));
      m.tr.hidden = !ok;
      if (ok) { count += 1; }
    });
    shown.textContent = count + " of " + models.length + " models shown";
  };
  form.hidden = false;
  form.addEventListener("input", apply);
  form.addEventListener("change", apply);
  form.addEventListener("submit", function (e) { e.preventDefault(); });
  apply();
}());
