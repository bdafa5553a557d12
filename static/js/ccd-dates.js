/* The date picker on inputs marked data-ccd-date (templates/admin/_dates.html): ISO YYYY-MM-DD, as in
   the record forms, where Flask-Admin's form.js attaches the same picker to data-role="datepicker".
   Typing closes the picker, so it never covers the button a person who typed the date clicks next. */
(function ($) {
  "use strict";
  if (!$ || !$.fn.daterangepicker) {
    return;
  }
  $("input[data-ccd-date]").each(function () {
    var input = $(this);
    input.daterangepicker({ singleDatePicker: true, showDropdowns: true, format: "YYYY-MM-DD" });
    input.on("input", function () {
      var picker = input.data("daterangepicker");
      if (picker && picker.container.is(":visible")) {
        picker.hide();
      }
    });
  });
})(window.jQuery);
