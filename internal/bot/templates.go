package bot

// DefaultTemplate is a message the Frontline templates callback offers
// when the CRM keeps no templates.
type DefaultTemplate struct {
	Category string
	Content  string
}

// DefaultTemplates are offered until templates are kept in the CRM. None
// is marked WhatsApp-approved: approval belongs to each business's own
// WhatsApp account, so only the CRM can say a text was approved.
var DefaultTemplates = []DefaultTemplate{
	{Category: "Openers", Content: "Hello {{customer.first_name}}, this is {{worker.name}} from the Expert Hub. How can I help you today?"},
	{Category: "Openers", Content: "Hi {{customer.first_name}}, I'm following up on your request. Do you have a minute?"},
	{Category: "Replies", Content: "Thank you, {{customer.first_name}}. Let me check and come back to you shortly."},
	{Category: "Replies", Content: "You're welcome! Is there anything else I can help you with?"},
	{Category: "Closing", Content: "Thank you for your time, {{customer.first_name}}. Have a great day!"},
}

// UncategorisedTemplates names the category of templates the CRM gave no
// category.
const UncategorisedTemplates = "Templates"
