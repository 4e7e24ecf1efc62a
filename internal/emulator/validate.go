package emulator

import (
	"bytes"
	"encoding/base64"
	"encoding/json"
	"errors"
	"reflect"
	"regexp"
	"strconv"
	"time"
	"unicode/utf8"
)

var (
	nameRe   = regexp.MustCompile(`^[a-zA-Z0-9_-]{1,64}$`)
	kmsIDRe  = regexp.MustCompile(`^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$`)
	periodRe = regexp.MustCompile(`^([1-9][0-9]{0,8})([dhms])$`)
)

var validEventTypes = map[string]bool{
	"SECRET_VERSION_CREATED": true, "SECRET_VERSION_EXPIRED": true, "SECRET_ROTATED": true,
	"SECRET_DELETED": true, "SECRET_ROTATED_FAILED": true,
}

// decodeBody unmarshals a JSON object. Syntax errors are CSMS.0004; a field of the wrong
// type is CSMS.0002 naming the field.
func decodeBody(body []byte, v any) *apiError {
	if len(bytes.TrimSpace(body)) == 0 {
		return errBadBody("the body is empty")
	}
	if err := json.Unmarshal(body, v); err != nil {
		var te *json.UnmarshalTypeError
		if errors.As(err, &te) && te.Field != "" {
			return errInvalid(te.Field, "wrong type")
		}
		return errBadBody("not a JSON object")
	}
	return nil
}

// numericField is a body field documented as a numeric string that clients also send as
// a JSON number (the Terraform huaweicloud provider does for resource_instances limit and
// offset). Either form keeps its text, so both meet the same range checks; any other
// JSON type is a wrong-type error naming the field, as for a plain string field.
type numericField string

func (n *numericField) UnmarshalJSON(b []byte) error {
	var s string
	if err := json.Unmarshal(b, &s); err == nil {
		*n = numericField(s)
		return nil
	}
	var num json.Number
	if err := json.Unmarshal(b, &num); err != nil {
		return &json.UnmarshalTypeError{Value: string(b), Type: reflect.TypeFor[string]()}
	}
	*n = numericField(num.String())
	return nil
}

// int parses the field's text as a base-10 integer (no fraction, no exponent).
func (n numericField) int() (int, error) { return strconv.Atoi(string(n)) }

type createReq struct {
	Name                *string   `json:"name"`
	KmsKeyID            *string   `json:"kms_key_id"`
	Description         *string   `json:"description"`
	SecretString        *string   `json:"secret_string"`
	SecretBinary        *string   `json:"secret_binary"`
	SecretType          *string   `json:"secret_type"`
	AutoRotation        *bool     `json:"auto_rotation"`
	RotationPeriod      *string   `json:"rotation_period"`
	RotationConfig      *string   `json:"rotation_config"`
	EventSubscriptions  *[]string `json:"event_subscriptions"`
	EnterpriseProjectID *string   `json:"enterprise_project_id"`
	RotationFuncURN     *string   `json:"rotation_func_urn"`
}

// DecodeCreate parses and validates a CreateSecret body (exported for the fuzz target).
func DecodeCreate(body []byte) (*createReq, error) {
	var req createReq
	if aerr := decodeBody(body, &req); aerr != nil {
		return nil, aerr
	}
	if aerr := req.validate(); aerr != nil {
		return nil, aerr
	}
	return &req, nil
}

func (r *createReq) validate() *apiError {
	if r.Name == nil || !nameRe.MatchString(*r.Name) {
		return errInvalid("name", "must match ^[a-zA-Z0-9_-]{1,64}$")
	}
	if aerr := validateKeyAndDescription(r.KmsKeyID, r.Description); aerr != nil {
		return aerr
	}
	if aerr := validateValue(r.SecretString, r.SecretBinary); aerr != nil {
		return aerr
	}
	typ := "COMMON"
	if r.SecretType != nil {
		typ = *r.SecretType
	}
	switch typ {
	case "COMMON", "RDS-FG", "GaussDB-FG":
	default:
		return errInvalid("secret_type", "must be COMMON, RDS-FG or GaussDB-FG")
	}
	if r.RotationConfig != nil && utf8.RuneCountInString(*r.RotationConfig) > maxRotationConfigChars {
		return errInvalid("rotation_config", "longer than 1024 characters")
	}
	if typ != "COMMON" {
		if r.RotationConfig == nil || !validRotationConfig(*r.RotationConfig) {
			return errInvalid("rotation_config", `required for `+typ+` as {"InstanceId":"...","SecretSubType":"SingleUser|MultiUser"}`)
		}
	}
	if r.RotationPeriod != nil {
		if aerr := validatePeriod(*r.RotationPeriod); aerr != nil {
			return aerr
		}
	}
	if r.AutoRotation != nil && *r.AutoRotation {
		if r.RotationPeriod == nil {
			return errInvalid("rotation_period", "required when auto_rotation is true")
		}
		if r.RotationFuncURN == nil || *r.RotationFuncURN == "" {
			return errInvalid("rotation_func_urn", "required when auto_rotation is true")
		}
	}
	if r.EventSubscriptions != nil {
		if aerr := validateSubscriptions(*r.EventSubscriptions); aerr != nil {
			return aerr
		}
	}
	return nil
}

// validateKeyAndDescription checks the optional kms_key_id and description that create
// and update accept alike.
func validateKeyAndDescription(kmsKeyID, description *string) *apiError {
	if kmsKeyID != nil && *kmsKeyID != "" && !kmsIDRe.MatchString(*kmsKeyID) {
		return errInvalid("kms_key_id", "must match ^[0-9a-z]{8}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{4}-[0-9a-z]{12}$")
	}
	if description != nil && len(*description) > maxDescriptionBytes {
		return errInvalid("description", "longer than 2048 bytes")
	}
	return nil
}

// validateValue enforces exactly one of secret_string / secret_binary, the size limit
// (on the field as sent) and base64 for secret_binary.
func validateValue(str, bin *string) *apiError {
	if (str == nil) == (bin == nil) {
		return errInvalid("secret_string/secret_binary", "exactly one must be set")
	}
	if str != nil {
		if len(*str) > MaxValueBytes {
			return errInvalid("secret_string", "larger than 64 KB")
		}
		return nil
	}
	if len(*bin) > MaxValueBytes {
		return errInvalid("secret_binary", "larger than 64 KB")
	}
	if _, err := base64.StdEncoding.DecodeString(*bin); err != nil {
		return errInvalid("secret_binary", "not valid base64")
	}
	return nil
}

func validRotationConfig(s string) bool {
	var c struct {
		InstanceID    string `json:"InstanceId"`
		SecretSubType string `json:"SecretSubType"`
	}
	if json.Unmarshal([]byte(s), &c) != nil {
		return false
	}
	return c.InstanceID != "" && (c.SecretSubType == "SingleUser" || c.SecretSubType == "MultiUser")
}

func validatePeriod(p string) *apiError {
	ms := periodMs(p)
	if ms == 0 {
		return errInvalid("rotation_period", "must be Integer[d|h|m|s]")
	}
	if ms < int64(minRotationHours*time.Hour/time.Millisecond) || ms > int64(maxRotationHours*time.Hour/time.Millisecond) {
		return errInvalid("rotation_period", "must be between 4h and 8760h")
	}
	return nil
}

// periodMs converts a rotation period to milliseconds; 0 if malformed.
func periodMs(p string) int64 {
	m := periodRe.FindStringSubmatch(p)
	if m == nil {
		return 0
	}
	n, _ := strconv.ParseInt(m[1], 10, 64)
	unit := map[string]time.Duration{"d": 24 * time.Hour, "h": time.Hour, "m": time.Minute, "s": time.Second}[m[2]]
	return n * int64(unit/time.Millisecond)
}

func validateSubscriptions(subs []string) *apiError {
	if len(subs) > maxEventSubscriptions {
		return errInvalid("event_subscriptions", "at most one event can be subscribed")
	}
	for _, e := range subs {
		if !nameRe.MatchString(e) {
			return errInvalid("event_subscriptions", "event names must match ^[a-zA-Z0-9_-]{1,64}$")
		}
	}
	return nil
}

func validateStages(stages []string) *apiError {
	if len(stages) < 1 || len(stages) > maxVersionStages {
		return errInvalid("version_stages", "must have 1 to 12 entries")
	}
	seen := map[string]bool{}
	for _, s := range stages {
		if s == "" || utf8.RuneCountInString(s) > maxStageNameChars {
			return errInvalid("version_stages", "each stage must be 1 to 64 characters")
		}
		if seen[s] {
			return errInvalid("version_stages", "duplicate stage "+s)
		}
		seen[s] = true
	}
	return nil
}

func validateTag(key string, value *string) *apiError {
	if key == "" || utf8.RuneCountInString(key) > maxTagKeyChars {
		return errInvalid("tags.key", "must be 1 to 128 characters")
	}
	if len(key) >= 5 && key[:5] == "_sys_" {
		return errInvalid("tags.key", "must not start with _sys_")
	}
	if value != nil && utf8.RuneCountInString(*value) > maxTagValueChars {
		return errInvalid("tags.value", "must be at most 255 characters")
	}
	return nil
}

// parseLimit reads a list limit (string in the query), default def, 1..max.
func parseLimit(raw string, def int) (int, *apiError) {
	if raw == "" {
		return def, nil
	}
	n, err := strconv.Atoi(raw)
	if err != nil || n < 1 || n > maxListLimit {
		return 0, errInvalid("limit", "must be an integer from 1 to 1000")
	}
	return n, nil
}
