// Inline edits by people whose changes go through approval: the server stores a proposal
// and answers {"proposal": true, "message": ...}. Returning the message from x-editable's
// success hook keeps the editor open with the message and leaves the cell's value as it is,
// because the record has not changed.
(function ($) {
  "use strict";
  if (!$ || !$.fn || !$.fn.editable) {
    return;
  }
  $.fn.editable.defaults.success = function (response) {
    if (response && response.proposal) {
      return response.message;
    }
    return undefined;
  };
})(window.jQuery);
