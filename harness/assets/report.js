// report.html's own script (no library): the framework filter, sortable tables and
// tooltips on chart marks. Marks and table rows carry data-fw (the target name); marks
// carry data-tip (their exact value); number cells carry data-sort.
(function () {
  'use strict';
  var each = function (list, f) { Array.prototype.forEach.call(list, f); };

  // Framework filter: a hidden framework's rows and chart marks get .fw-hidden.
  var hidden = {};
  function applyFilter() {
    each(document.querySelectorAll('[data-fw]'), function (el) {
      el.classList.toggle('fw-hidden', hidden[el.getAttribute('data-fw')] === true);
    });
  }
  each(document.querySelectorAll('input.fw-toggle'), function (box) {
    box.addEventListener('change', function () {
      hidden[box.value] = !box.checked;
      applyFilter();
    });
  });

  // Sorting: click (or Enter on) a header; again to reverse. Cells without a number
  // sort after those with one in both directions.
  function sortKey(cell) {
    var key = cell && cell.getAttribute('data-sort');
    return key === null || key === undefined ? null : parseFloat(key);
  }
  function compare(a, b, col, direction) {
    var x = sortKey(a.cells[col]), y = sortKey(b.cells[col]);
    if (x !== null && y !== null) { return (x - y) * direction; }
    if (x !== null) { return -1; }
    if (y !== null) { return 1; }
    var s = a.cells[col] ? a.cells[col].textContent : '';
    var t = b.cells[col] ? b.cells[col].textContent : '';
    return s.localeCompare(t) * direction;
  }
  each(document.querySelectorAll('table.sortable'), function (table) {
    var heads = table.tHead.rows[0].cells;
    each(heads, function (th, col) {
      function sort() {
        var ascending = th.getAttribute('aria-sort') !== 'ascending';
        each(heads, function (h) { h.removeAttribute('aria-sort'); });
        th.setAttribute('aria-sort', ascending ? 'ascending' : 'descending');
        var body = table.tBodies[0];
        var rows = Array.prototype.slice.call(body.rows);
        rows.sort(function (a, b) { return compare(a, b, col, ascending ? 1 : -1); });
        each(rows, function (row) { body.appendChild(row); });
      }
      th.addEventListener('click', sort);
      th.addEventListener('keydown', function (e) {
        if (e.key === 'Enter' || e.key === ' ') { e.preventDefault(); sort(); }
      });
    });
  });

  // Tooltips: the exact value of the mark under the pointer. The SVG <title>s say the
  // same for viewers without this script; here they would show a second tooltip.
  each(document.querySelectorAll('g.mark > title'), function (t) { t.remove(); });
  var tip = document.getElementById('tooltip');
  function place(e) {
    var x = Math.min(e.clientX + 14, window.innerWidth - tip.offsetWidth - 8);
    tip.style.left = Math.max(x, 4) + 'px';
    tip.style.top = (e.clientY + 16) + 'px';
  }
  document.addEventListener('mouseover', function (e) {
    var mark = e.target.closest ? e.target.closest('g.mark[data-tip]') : null;
    if (!mark) { tip.hidden = true; return; }
    tip.textContent = mark.getAttribute('data-tip');
    tip.hidden = false;
    place(e);
  });
  document.addEventListener('mousemove', function (e) { if (!tip.hidden) { place(e); } });
  document.documentElement.setAttribute('data-ready', 'true');
})();
