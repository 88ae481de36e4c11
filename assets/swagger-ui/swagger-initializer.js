// Swagger UI over the document this server serves: the mounted contracts
// only. A file rather than an inline script, so the page's
// Content-Security-Policy can keep script-src to 'self'.
window.onload = function () {
  window.ui = SwaggerUIBundle({
    url: "/openapi.json",
    dom_id: "#swagger-ui",
    deepLinking: true,
    presets: [SwaggerUIBundle.presets.apis],
    layout: "BaseLayout",
    // No call to an outside validator (swagger.io): nothing leaves the host.
    validatorUrl: null,
  });
};
