package frontline

import (
	"log/slog"
	"net/http"
	"strconv"
	"strings"

	"github.com/experthub/experthub/internal/crm"
	"github.com/experthub/experthub/internal/httpjson"
)

// ProxyNumbers chooses the company number an outgoing conversation is sent
// from.
type ProxyNumbers struct {
	// Default is used when no country-specific number fits.
	Default string
	// ByCountry maps an ISO 3166 code ("FR", "GB") to a number.
	ByCountry map[string]string
}

// For returns the proxy address for a customer address on a channel
// ("sms" or "whatsapp"), or "" when none fits.
func (p ProxyNumbers) For(channelType, customerAddress string) string {
	number := p.ByCountry[crm.RegionOf(customerAddress)]
	if number == "" {
		number = p.Default
	}
	if number == "" {
		return ""
	}
	number = strings.TrimPrefix(number, "whatsapp:")
	if strings.EqualFold(channelType, "whatsapp") || crm.IsWhatsApp(customerAddress) {
		return "whatsapp:" + number
	}
	return number
}

// OutgoingHandler serves the Frontline outgoing-conversations callback
// (Location=GetProxyAddress). It expects a verified request with its form
// in r.PostForm.
func OutgoingHandler(proxies ProxyNumbers, log *slog.Logger) http.Handler {
	log = orDiscard(log)
	return http.HandlerFunc(func(w http.ResponseWriter, r *http.Request) {
		f := r.PostForm
		if loc := f.Get("Location"); loc != "GetProxyAddress" {
			unknownLocation(w, r, log, "outgoing", loc)
			return
		}
		channel, address := strings.ToLower(f.Get("ChannelType")), f.Get("ChannelValue")
		if channel != "sms" && channel != "whatsapp" {
			httpjson.Error(w, http.StatusForbidden, "no proxy address for channel "+strconv.Quote(clip(channel)))
			return
		}
		proxy := proxies.For(channel, address)
		if proxy == "" {
			log.WarnContext(r.Context(), "outgoing callback: no proxy number fits",
				"channel", channel, "address", clip(address), "worker", clip(f.Get("Worker")))
			httpjson.Error(w, http.StatusForbidden, "no proxy number configured for this customer's country: "+
				"set FRONTLINE_PROXY_NUMBER or FRONTLINE_PROXY_NUMBER_<COUNTRY>")
			return
		}
		log.InfoContext(r.Context(), "outgoing conversation", "channel", channel, "customer_id", clip(f.Get("CustomerId")),
			"address", clip(address), "proxy", proxy)
		httpjson.Write(w, http.StatusOK, map[string]string{"proxy_address": proxy})
	})
}
