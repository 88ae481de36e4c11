// The console's only script: ask before a form marked data-confirm is sent
// (deleting a user, ending sessions). Everything works without it.
document.addEventListener("submit", function (event) {
  var form = event.target;
  var question = form.getAttribute("data-confirm");
  if (question && !window.confirm(question)) {
    event.preventDefault();
  }
});
