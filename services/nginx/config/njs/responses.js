// Responses by status code, counted as Nginx logs them, in a zone every worker shares; served
// in Prometheus's text format on the internal port (8081, /metrics). stub_status has no codes,
// and the 502s, 504s and 429s Nginx answers itself never reach the app's metrics.

// js_set handler, evaluated once per request when its access log line is written (Nginx keeps
// a variable's value for the rest of the request, so two access logs still count once).
function count(r) {
    ngx.shared.flaskobs_responses.incr(String(r.status), 1, 0);
    return "";
}

function metrics(r) {
    const lines = [
        "# HELP nginx_http_responses_total Responses Nginx sent to clients, by status code (one per access log line)",
        "# TYPE nginx_http_responses_total counter",
    ];
    const items = ngx.shared.flaskobs_responses.items();
    items.sort(function (a, b) { return a[0] < b[0] ? -1 : 1; });
    for (var i = 0; i < items.length; i++) {  // njs has no for...of
        lines.push('nginx_http_responses_total{code="' + items[i][0] + '"} ' + items[i][1]);
    }
    r.headersOut["Content-Type"] = "text/plain; version=0.0.4; charset=utf-8";
    r.return(200, lines.join("\n") + "\n");
}

export default { count, metrics };
