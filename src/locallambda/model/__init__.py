"""Types every layer shares: function references and ARNs, specs and results, lifecycles, request context, AWS wording."""
