// Package crmtest holds test helpers for the crm package: sample customers
// and a conformance suite every customer store must pass.
package crmtest

import (
	"fmt"
	"time"

	"github.com/experthub/experthub/internal/crm"
)

// SampleCustomers returns the three customers of the project's seed
// (the Strapi tutorial) with full phone numbers. Each call returns fresh
// values the caller may change.
func SampleCustomers() []crm.Customer {
	return []crm.Customer{
		{
			ID:          "1",
			DisplayName: "Maria Sanchez",
			Channels:    []crm.Channel{{Type: "sms", Value: "+33679500001"}},
			Avatar:      "https://cinnabar-albatross-5407.twil.io/assets/face2.jpeg",
		},
		{
			ID:          "2",
			DisplayName: "Jo Anne",
			Channels:    []crm.Channel{{Type: "sms", Value: "+447491000002"}},
			Avatar:      "https://cinnabar-albatross-5407.twil.io/assets/face3.jpeg",
		},
		{
			ID:          "3",
			DisplayName: "Susan Smith",
			Channels:    []crm.Channel{{Type: "whatsapp", Value: "whatsapp:+5521989500003"}},
			Avatar:      "https://cinnabar-albatross-5407.twil.io/assets/face4.jpeg",
		},
	}
}

var (
	firstNames = []string{"Ana", "Bruno", "Chloé", "David", "Emma", "Farid", "Greta", "Hugo", "Inès", "Jo"}
	lastNames  = []string{"Martin", "Smith", "Sanchez", "Dubois", "Rossi", "Müller", "Silva", "Nowak", "Kim", "Anne"}
)

// GenerateCustomers returns n distinct customers for load and paging
// tests: ids "c0000000", "c0000001", …; names repeat (so list order needs
// the id tie-break); every customer has an SMS number "+336xxxxxxxx" built
// from its index and every other one a WhatsApp number too; one in three
// has no owner and the rest belong to "worker0@example.com" …
// "worker9@example.com". SyncedAt is syncedAt for all.
func GenerateCustomers(n int, syncedAt time.Time) []crm.Customer {
	out := make([]crm.Customer, n)
	for i := range out {
		c := crm.Customer{
			ID:          fmt.Sprintf("c%07d", i),
			DisplayName: firstNames[i%len(firstNames)] + " " + lastNames[(i/len(firstNames))%len(lastNames)],
			Channels:    []crm.Channel{{Type: "sms", Value: GeneratedAddress(i)}},
			Avatar:      fmt.Sprintf("https://example.com/avatars/%d.png", i%50),
			SourceKey:   fmt.Sprintf("doc%07d", i),
			SyncedAt:    syncedAt,
		}
		if i%2 == 0 {
			c.Channels = append(c.Channels, crm.Channel{Type: "whatsapp", Value: fmt.Sprintf("whatsapp:+447%09d", i)})
		}
		if i%3 != 0 {
			c.Worker = fmt.Sprintf("worker%d@example.com", i%10)
		}
		out[i] = c
	}
	return out
}

// GeneratedAddress is the normalised SMS address of GenerateCustomers'
// i-th customer.
func GeneratedAddress(i int) string { return fmt.Sprintf("+336%08d", i) }
